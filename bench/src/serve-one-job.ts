// The child side of a forked load process: one job over IPC, its result (or failure) back, then exit.

/** Sends one IPC message to the parent and resolves once it is written. */
export const sendToParent = (message: unknown) =>
  new Promise<void>((resolve) => process.send?.(message, undefined, {}, () => resolve()));

/**
 * Waits for the parent's `{type: "job"}` message, runs it, answers `{type: "result"}` or
 * `{type: "failed", message}` and exits; exits too when the parent goes away, so no load
 * outlives its bound.
 */
export function serveOneJob<Job>(run: (job: Job) => Promise<unknown>): void {
  process.once('disconnect', () => process.exit(1));
  process.once('message', (message: { type: string; job?: Job }) => {
    if (message.type !== 'job') return;
    run(message.job as Job).then(
      async (result) => {
        await sendToParent({ type: 'result', result });
        process.exit(0);
      },
      async (error: unknown) => {
        await sendToParent({
          type: 'failed',
          message: error instanceof Error ? (error.stack ?? error.message) : String(error),
        });
        process.exit(1);
      },
    );
  });
}
