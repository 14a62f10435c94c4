/**
 * When a supervised service is restarted and when supervision gives up on it: exponential
 * backoff as a Kubernetes Deployment does, on a shorter scale fit for a laptop.
 */
export interface RestartPolicy {
  /** Wait before the first restart after a crash; default 500 ms. */
  initialDelayMs: number;
  /** Each further crash in a row doubles the wait, up to this; default 10 s. */
  maxDelayMs: number;
  /** A process that stayed up this long counts as healthy: its next crash waits initialDelayMs again; default 30 s. */
  resetAfterMs: number;
  /** Give up after this many crashes within crashWindowMs; default 5. */
  maxCrashes: number;
  /** Default 60 s. */
  crashWindowMs: number;
}

/** The policy of `npm start`. */
export const defaultRestartPolicy: RestartPolicy = {
  initialDelayMs: 500,
  maxDelayMs: 10_000,
  resetAfterMs: 30_000,
  maxCrashes: 5,
  crashWindowMs: 60_000,
};

/** The wait before restarting after the `crashesInARow`-th crash in a row (1 for the first). */
export function restartDelay(policy: RestartPolicy, crashesInARow: number): number {
  return Math.min(policy.initialDelayMs * 2 ** Math.max(0, crashesInARow - 1), policy.maxDelayMs);
}
