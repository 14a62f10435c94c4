import { type Clock, systemClock } from '@toolmesh/clock';

/**
 * The time a statement judges leases, expiry and staleness by, as a parameter for
 * `coalesce($n::timestamptz, now())`. With the system clock it is NULL, so the
 * database's own clock decides: every replica then compares against one clock, and a
 * replica whose clock is skewed can neither take a lease early nor hold one too long.
 * A test's manual clock is passed in instead, so tests still decide when time passes.
 */
export function sqlTime(clock: Clock | undefined): () => Date | null {
  if (!clock || clock === systemClock) return () => null;
  return () => new Date(clock.now());
}

/** The SQL for "now" of {@link sqlTime}'s parameter `$n`. */
export const nowAt = (param: string) => `coalesce(${param}::timestamptz, now())`;

/** `nowAt(param)` plus `ms` (a parameter or literal) milliseconds. */
export const nowPlus = (param: string, ms: string) =>
  `(${nowAt(param)} + make_interval(secs => ${ms}::double precision / 1000))`;

/** `nowAt(param)` minus `ms` milliseconds. */
export const nowMinus = (param: string, ms: string) =>
  `(${nowAt(param)} - make_interval(secs => ${ms}::double precision / 1000))`;
