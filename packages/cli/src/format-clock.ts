/** Local wall-clock time "21:49:12": short, and the same in every locale. */
export function formatClock(date: Date): string {
  return date.toTimeString().slice(0, 8);
}
