import { type Clock, systemClock } from '@toolmesh/clock';

/**
 * How an admitted unit of work ended, as far as its bound should learn from it: `succeeded`
 * (its latency is a sample), `overloaded` (refused further in or out of time: a sign of too
 * much work in flight), `failed` (anything else, e.g. a bad request or a cancelled caller: its
 * latency says nothing about load, so it is ignored).
 */
export type AdmissionOutcome = 'succeeded' | 'overloaded' | 'failed';

/** Options of {@link createAdaptiveLimit}. */
export interface AdaptiveLimitOptions {
  /** Ceiling of the limit (e.g. MAX_TURNS_IN_FLIGHT); a positive integer. */
  maxLimit: number;
  /** Floor of the limit; default 4, at most `maxLimit`. */
  minLimit?: number;
  /** Where the limit starts; default `maxLimit`, so a fresh process admits as a fixed bound would. */
  initialLimit?: number;
  /**
   * Latency up to this many times the baseline counts as "no queue"; default 2. Beyond it the
   * limit shrinks in proportion; within it (and while the limit is used) it grows.
   */
  tolerance?: number;
  /** A decision is taken at most this often; default 1 s. */
  windowMs?: number;
  /** … and only on at least this many finished units (a median of fewer is noise); default 5. */
  windowSamples?: number;
  /** Times the units; default the system clock. */
  clock?: Clock;
}

/** A concurrency limit that follows observed latency; made by {@link createAdaptiveLimit}. */
export interface AdaptiveLimit {
  /** The limit now: an integer in [minLimit, maxLimit]. */
  current(): number;
  /** Records a unit admitted now; call the result once when it ends (later calls do nothing). */
  started(): (outcome: AdmissionOutcome) => void;
  /** The no-load latency the limit compares with, in ms; undefined before the first decision. */
  baselineMs(): number | undefined;
  readonly minLimit: number;
  readonly maxLimit: number;
}

interface Unit {
  admittedAt: number;
  /** Number of its admission, for the most units in flight during its life (see peakSince). */
  admission: number;
}

// The smallest step down in one decision: a latency far above the baseline cuts the limit to a
// quarter at most, so one bad window (a GC pause, a slow tool) cannot take it to the floor.
const maxCut = 0.25;
// Step down on a refusal or deadline further in, with a latency that does not show it yet.
const overloadCut = 0.9;
// Weight of an uncontended window's latency when it raises the baseline (a lower one replaces it).
const baselineRise = 0.5;

/**
 * An adaptive concurrency limit in the spirit of TCP Vegas and Netflix's concurrency-limits
 * (our own small variant): each decision takes the median latency of the units that finished
 * over a window and compares it with a baseline, the latency of the work itself without a queue.
 *
 * - **Baseline.** The lowest window median seen; raised (smoothly) only by windows in which no
 *   unit ever ran alongside more than `minLimit` others, i.e. at the floor of concurrency, where
 *   latency is the work's own (a slow model, a long tool) and not queueing. A burst of slow but
 *   legitimate turns therefore first shrinks the limit to the floor, then those floor windows
 *   lift the baseline to the new latency and the limit grows back. Nothing else raises it, so
 *   sustained overload cannot creep it upward. Each backend is compared with its own baseline:
 *   a model that answers in 20 s is not "overloaded", it is 20 s.
 * - **Decrease.** If the limit was reached in the window (as many units in flight as it allows,
 *   so any more were refused), a median above `tolerance` × baseline cuts the limit to
 *   min(limit, units actually in flight) × tolerance × baseline / median (at most to a quarter);
 *   any `overloaded` outcome cuts it by 10 %. After a cut, units admitted before the work in
 *   flight fell to the new limit are not judged: they queued under the old one (one decision per
 *   round trip, as TCP does).
 * - **Increase.** A median within tolerance, with no overloaded outcome, while the limit was
 *   used (at least half of it in flight), adds √limit (at least 1).
 */
export function createAdaptiveLimit(options: AdaptiveLimitOptions): AdaptiveLimit {
  const maxLimit = options.maxLimit;
  if (!(Number.isInteger(maxLimit) && maxLimit > 0))
    throw new RangeError(`maxLimit must be a positive integer, got ${maxLimit}`);
  const minLimit = Math.min(maxLimit, options.minLimit ?? 4);
  if (!(Number.isInteger(minLimit) && minLimit > 0))
    throw new RangeError(`minLimit must be a positive integer, got ${minLimit}`);
  const tolerance = options.tolerance ?? 2;
  if (!(tolerance >= 1)) throw new RangeError(`tolerance must be at least 1, got ${tolerance}`);
  const windowMs = options.windowMs ?? 1_000;
  const windowSamples = Math.max(1, options.windowSamples ?? 5);
  const clock = options.clock ?? systemClock;

  let estimate = Math.min(maxLimit, Math.max(minLimit, options.initialLimit ?? maxLimit));
  let baseline: number | undefined;
  let inFlight = 0;
  // Admissions whose in-flight count exceeds that of every later one (a stack, counts strictly
  // decreasing): the most in flight since admission n is the count of the first entry at or
  // after n. At most maxLimit entries, as the counts are distinct and at most maxLimit.
  let admissions = 0;
  const peaks: { admission: number; inFlight: number }[] = [];
  const peakSince = (admission: number): number => {
    let lo = 0;
    let hi = peaks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((peaks[mid] as { admission: number }).admission < admission) lo = mid + 1;
      else hi = mid;
    }
    return peaks[lo]?.inFlight ?? inFlight;
  };
  // Units admitted before this time are not judged (Infinity: a cut is draining).
  let freshAfter = Number.NEGATIVE_INFINITY;
  let window = { openedAt: clock.now(), latencies: [] as number[], overloaded: 0, peak: 0 };

  const current = () => Math.floor(estimate);
  const newWindow = () => {
    window = { openedAt: clock.now(), latencies: [], overloaded: 0, peak: 0 };
  };
  const checkDrained = () => {
    if (freshAfter === Number.POSITIVE_INFINITY && inFlight <= current()) freshAfter = clock.now();
  };

  const decide = () => {
    const { latencies, overloaded, peak } = window;
    newWindow();
    const median = medianOf(latencies);
    if (median !== undefined) {
      if (baseline === undefined || median < baseline) baseline = median;
      else if (peak <= minLimit) baseline += (median - baseline) * baselineRise;
    }
    let factor = 1;
    // Latency beyond tolerance is a queue at this bound only if the bound was reached: below it
    // no caller waited for a slot, and a closed loop of fewer callers than the bound (each asking
    // again as soon as it is answered) is slower only by its own number. Cutting the bound under
    // those callers would refuse some of them and make the others no faster.
    const reached = peak >= current();
    if (reached && median !== undefined && baseline !== undefined && median > tolerance * baseline) {
      factor = Math.max(maxCut, (tolerance * baseline) / median);
    }
    if (overloaded > 0) factor = Math.min(factor, overloadCut);
    if (factor < 1) {
      estimate = Math.max(minLimit, Math.min(estimate, peak) * factor);
      freshAfter = Number.POSITIVE_INFINITY;
      checkDrained();
    } else if (peak * 2 >= current()) {
      estimate = Math.min(maxLimit, estimate + Math.max(1, Math.sqrt(estimate)));
    }
  };

  const ended = (unit: Unit, outcome: AdmissionOutcome) => {
    const peak = peakSince(unit.admission);
    inFlight--;
    checkDrained();
    if (outcome === 'failed' || unit.admittedAt < freshAfter) return;
    if (outcome === 'overloaded') window.overloaded++;
    else window.latencies.push(Math.max(0, clock.now() - unit.admittedAt));
    window.peak = Math.max(window.peak, peak);
    const samples = window.latencies.length + window.overloaded;
    if (samples >= windowSamples && clock.now() - window.openedAt >= windowMs) decide();
  };

  return {
    minLimit,
    maxLimit,
    current,
    started() {
      inFlight++;
      const unit: Unit = { admittedAt: clock.now(), admission: admissions++ };
      while ((peaks.at(-1)?.inFlight ?? Number.POSITIVE_INFINITY) <= inFlight) peaks.pop();
      peaks.push({ admission: unit.admission, inFlight });
      let done = false;
      return (outcome) => {
        if (done) return;
        done = true;
        ended(unit, outcome);
      };
    },
    baselineMs: () => baseline,
  };
}

function medianOf(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
