/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** What is awaited, for the failure message ("the breaker to half-open"). */
  what: string;
  /** How long before giving up; default 30 s, generous so a busy machine never fails it. */
  timeoutMs?: number;
  /** Pause between checks; default 50 ms. */
  intervalMs?: number;
}

/**
 * Polls `condition` until it answers a truthy value and returns that value: how a
 * test waits for something another process does (a breaker half-opening, a
 * registration appearing). The deadline only bounds a broken run; it is never the
 * fact under test. An error thrown by `condition` ends the wait at once.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: T;
  for (;;) {
    last = await condition();
    if (last) return last as Exclude<T, false | 0 | '' | null | undefined>;
    if (Date.now() >= deadline) {
      throw new Error(
        `gave up after ${timeoutMs} ms waiting for ${options.what} (last answer: ${describe(last)})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
