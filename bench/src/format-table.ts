/** A markdown table, its columns padded to one width so that it also reads as plain text. */
export function formatTable(head: string[], rows: string[][]): string {
  const width = (text: string) => [...text].length;
  const widths = head.map((h, i) => Math.max(3, width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    `| ${widths.map((w, i) => (cells[i] ?? '') + ' '.repeat(w - width(cells[i] ?? ''))).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** 1,234 with `digits` decimals; "–" when not a number. */
export const num = (value: number, digits = 0): string =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';

/** Milliseconds: two decimals under 10, one above. */
export const ms = (value: number): string => num(value, value < 10 ? 2 : 1);

/** 1.23×, or "–" when undefined. */
export const ratio = (value: number): string =>
  Number.isFinite(value) && value > 0 ? `${num(value, 2)}×` : '–';

/** A share as a percentage with one decimal. */
export const pct = (value: number): string => `${num(value * 100, 1)} %`;

/** Bytes as whole MiB. */
export const mib = (bytes: number): string => `${num(bytes / 2 ** 20, 0)} MiB`;
