/** A timer handle a {@link Clock} returns; `unref` lets the process exit while it is pending. */
export interface ClockTimer {
  cancel(): void;
  unref(): ClockTimer;
}

/**
 * The one source of time for leases, expiries, breakers, rate limits and intervals.
 * Services get {@link systemClock}; tests get a manual clock and advance it instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number): ClockTimer;
  /** Runs `fn` every `ms`. */
  setInterval(fn: () => void, ms: number): ClockTimer;
  /** Resolves `ms` from now; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
