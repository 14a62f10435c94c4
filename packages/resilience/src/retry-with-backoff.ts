import { type Clock, systemClock } from '@toolmesh/clock';

/** Options of {@link retryWithBackoff}. */
export interface RetryOptions {
  /** Attempts in all, the first included; default 3. */
  maxAttempts?: number;
  /** Ceiling of the first pause; doubles each retry; default 25 ms. */
  initialDelayMs?: number;
  /** Ceiling of any pause; default 500 ms. */
  maxDelayMs?: number;
  /**
   * Whether a failed attempt may be repeated (e.g. it never left this process, and a retry
   * budget still allows one). Called once per failure that has an attempt left.
   */
  shouldRetry: (error: unknown, attempt: number) => boolean;
  /** Cancels the pauses; an aborted signal ends the loop with the last error. */
  signal?: AbortSignal;
  /** Times the pauses; default the system clock. */
  clock?: Clock;
  /** Draws the jitter in [0, 1); default Math.random. */
  random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, `shouldRetry` declines, or the attempts are spent, pausing
 * between attempts with exponential backoff and full jitter (a random pause up to the ceiling),
 * so that clients that failed together do not retry together. Throws the last error.
 */
export async function retryWithBackoff<T>(
  attempt: (attemptNo: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const maxAttempts = options.maxAttempts ?? 3;
  const initialDelayMs = options.initialDelayMs ?? 25;
  const maxDelayMs = options.maxDelayMs ?? 500;
  for (let attemptNo = 1; ; attemptNo++) {
    try {
      return await attempt(attemptNo);
    } catch (error) {
      const again =
        attemptNo < maxAttempts && !options.signal?.aborted && options.shouldRetry(error, attemptNo);
      if (!again) throw error;
      const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** (attemptNo - 1));
      try {
        await clock.sleep(random() * ceiling, options.signal);
      } catch {
        // Cancelled during the pause: the caller hears the failure it would have retried.
        throw error;
      }
    }
  }
}
