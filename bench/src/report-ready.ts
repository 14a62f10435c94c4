/**
 * Tells the bench process (over IPC) that a child server listens on `port`, and
 * ties the child's life to it: when the bench goes away, so does the child.
 */
export function reportReady(port: number, stop: () => void): void {
  const exit = () => {
    stop();
    process.exit(0);
  };
  process.once('SIGTERM', exit);
  process.once('disconnect', exit);
  process.send?.({ type: 'ready', port });
}
