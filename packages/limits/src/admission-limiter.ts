import { type Clock, systemClock } from '@toolmesh/clock';
import { Counter, Gauge, type Registry } from '@toolmesh/telemetry';
import { type AdaptiveLimitOptions, type AdmissionOutcome, createAdaptiveLimit } from './adaptive-limit.ts';

/** Options of {@link createAdmissionLimiter}. */
export interface AdmissionLimiterOptions {
  /** Units of work (e.g. chat turns) admitted at once; a positive integer. The ceiling when `adaptive`. */
  limit: number;
  /**
   * Makes the bound follow observed latency (see createAdaptiveLimit) between a floor and
   * `limit`; absent: the bound is `limit`, fixed.
   */
  adaptive?: Omit<AdaptiveLimitOptions, 'maxLimit' | 'clock'>;
  /** Floor of the retry hint; default 100 ms (a hint of 0 invites a tight retry loop). */
  minRetryAfterMs?: number;
  /** Ceiling of the retry hint; default 5 s (long streams must not push callers away for minutes). */
  maxRetryAfterMs?: number;
  /** Times how long admitted work holds its slot (the retry hint); default the system clock. */
  clock?: Clock;
  /**
   * Registers `<prefix>_in_flight`, `<prefix>_in_flight_limit` (the ceiling), `<prefix>_admission_limit`
   * (the bound now: the ceiling or the adaptive limit), `<prefix>_latency_baseline_seconds` (adaptive
   * only) (gauges) and `<prefix>_shed_total` (counter) here; absent: no metrics.
   */
  metrics?: { registry: Registry; prefix: string; help: string };
}

/**
 * Gives an admitted unit's slot back, saying how it ended (default `succeeded`): an adaptive
 * bound learns from it. Calling it again does nothing.
 */
export type AdmissionRelease = (outcome?: AdmissionOutcome) => void;

/** Load shedding in front of costly work; made by {@link createAdmissionLimiter}. */
export interface AdmissionLimiter {
  /** The bound now: `limit` when fixed, the adaptive limit's current value otherwise. */
  readonly limit: number;
  /** The ceiling: the `limit` option. */
  readonly maxLimit: number;
  /**
   * A slot at once, or undefined when `limit` units are in flight: the caller is refused
   * instead of queued, so admitted work keeps its latency. Release the slot when the work
   * ends (a stream: when it closes); releasing twice does nothing.
   */
  tryAdmit(): AdmissionRelease | undefined;
  /**
   * True when `tryAdmit` would refuse now. A peek: it takes no slot and counts nothing, so a
   * caller can find out cheaply, before the work of reading a request, whether it is about to
   * be refused (the answer may be stale a moment later; `tryAdmit` stays the authority).
   */
  full(): boolean;
  /**
   * For a caller refused without ever asking for a slot (after `full`): when the bound is still
   * reached, counts the refusal as `tryAdmit` counts its own (the shed metric, the retry hint's
   * pressure) and returns true; otherwise changes nothing and returns false, and the caller
   * should ask `tryAdmit` as usual.
   */
  shedIfFull(): boolean;
  /**
   * When a refused caller may try again, within [minRetryAfterMs, maxRetryAfterMs]. With no
   * refusals about the last second it is the recent mean time a unit held its slot (before any
   * unit finished, 1 s). Under overload it is a step of a controller: the hint in force about a
   * second ago times the callers refused per caller admitted over about the last second, never
   * below the mean hold time. The callers waiting out their hints return at about (callers
   * waiting) / (hint) a second, so while more are refused than admitted the hint grows, and once
   * fewer are, it shrinks: the refused callers are spread over as long as the bound needs to
   * serve them, instead of coming back to be refused again (each refusal costs the process a
   * request's parsing and answer, taken from the admitted work). It follows latency through the
   * mean, and the bound through the ratio: an adaptive bound that shrinks admits fewer per
   * second, so the same callers are spread over longer.
   */
  retryAfterMs(): number;
  /** Units in flight now. */
  inFlight(): number;
  /** Callers refused so far. */
  shed(): number;
}

// Weight of the newest hold time in the running mean: recent enough to follow a load change
// within a few dozen turns, smooth enough that one long stream does not swing the hint.
const weight = 0.1;
// Time constant of the decaying counts of admissions and refusals (the "last second").
const rateWindowMs = 1_000;
// A retry hint older than this says nothing of the callers now: the next one starts afresh.
const staleStepMs = 10 * rateWindowMs;

/**
 * A bound on work in flight that refuses (never queues) beyond it, with a retry hint from
 * how long admitted work has been holding its slots. Queueing at a saturated server only
 * adds the queue's wait to every request; refusing at once lets callers retry elsewhere or
 * later while the admitted ones keep their latency.
 */
export function createAdmissionLimiter(options: AdmissionLimiterOptions): AdmissionLimiter {
  const { limit } = options;
  if (!(Number.isInteger(limit) && limit > 0))
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  const clock = options.clock ?? systemClock;
  const minRetry = options.minRetryAfterMs ?? 100;
  const maxRetry = Math.max(minRetry, options.maxRetryAfterMs ?? 5_000);
  const adaptive = options.adaptive
    ? createAdaptiveLimit({ ...options.adaptive, maxLimit: limit, clock })
    : undefined;
  const bound = adaptive ? adaptive.current : () => limit;
  let held = 0;
  let shed = 0;
  let meanHoldMs: number | undefined;
  // Admissions and refusals, each decayed by e^(-Δt/rateWindowMs): their ratio says how many
  // times over its capacity the process is asked. Refused callers that all came back after one
  // hold time would be refused again in that ratio, so the hint spreads them over as many.
  let recentAdmitted = 0;
  let recentShed = 0;
  let decayedAt = clock.now();
  // The hint in force about a window ago (undefined: none given yet) and since when.
  let stepHint: number | undefined;
  let steppedAt = decayedAt;
  const decay = () => {
    const now = clock.now();
    const factor = Math.exp(-Math.max(0, now - decayedAt) / rateWindowMs);
    recentAdmitted *= factor;
    recentShed *= factor;
    decayedAt = now;
  };

  const metrics = options.metrics;
  const shedCounter = metrics
    ? new Counter({
        name: `${metrics.prefix}_shed_total`,
        help: `${metrics.help} refused at once because the bound was reached (RESOURCE_EXHAUSTED).`,
        registers: [metrics.registry],
      })
    : undefined;
  if (metrics) {
    new Gauge({
      name: `${metrics.prefix}_in_flight`,
      help: `${metrics.help} in flight in this process.`,
      registers: [metrics.registry],
      collect() {
        this.set(held);
      },
    });
    new Gauge({
      name: `${metrics.prefix}_in_flight_limit`,
      help: `${metrics.help} this process admits at once at most (the ceiling of an adaptive bound).`,
      registers: [metrics.registry],
    }).set(limit);
    new Gauge({
      name: `${metrics.prefix}_admission_limit`,
      help: `${metrics.help} this process admits at once now (the adaptive bound, or the fixed one).`,
      registers: [metrics.registry],
      collect() {
        this.set(bound());
      },
    });
    if (adaptive) {
      new Gauge({
        name: `${metrics.prefix}_latency_baseline_seconds`,
        help: `${metrics.help}: the latency without a queue the adaptive bound compares with.`,
        registers: [metrics.registry],
        collect() {
          const baseline = adaptive.baselineMs();
          if (baseline !== undefined) this.set(baseline / 1_000);
        },
      });
    }
  }

  // One place counts a refusal, whichever way the caller was refused.
  const shedOne = () => {
    recentShed++;
    shed++;
    shedCounter?.inc();
  };

  return {
    get limit() {
      return bound();
    },
    maxLimit: limit,
    full: () => held >= bound(),
    shedIfFull() {
      decay();
      if (held < bound()) return false;
      shedOne();
      return true;
    },
    tryAdmit() {
      decay();
      if (held >= bound()) {
        shedOne();
        return undefined;
      }
      held++;
      recentAdmitted++;
      const admittedAt = clock.now();
      const ended = adaptive?.started();
      let released = false;
      return (outcome = 'succeeded') => {
        if (released) return;
        released = true;
        held--;
        const heldMs = Math.max(0, clock.now() - admittedAt);
        // A refusal further in returns at once: its hold time is not a turn's.
        if (outcome === 'succeeded') {
          meanHoldMs = meanHoldMs === undefined ? heldMs : meanHoldMs + weight * (heldMs - meanHoldMs);
        }
        ended?.(outcome);
      };
    },
    retryAfterMs() {
      decay();
      const now = clock.now();
      const hold = meanHoldMs ?? 1_000;
      const pressure = recentShed / Math.max(1, recentAdmitted);
      // One hold time is enough while refusals are rare. Beyond that the previous step's hint is
      // scaled by how many more callers it left than the bound admitted; a first step (or one
      // after a long quiet spell) starts from the hold time. Stepping once a window keeps a
      // burst of refusals from compounding the hint within it.
      const step = stepHint !== undefined && now - steppedAt < staleStepMs ? stepHint : undefined;
      const hint = step === undefined ? hold * Math.max(1, pressure) : Math.max(hold, step * pressure);
      const bounded = Math.round(Math.min(maxRetry, Math.max(minRetry, hint)));
      if (step === undefined || now - steppedAt >= rateWindowMs) {
        stepHint = bounded;
        steppedAt = now;
      }
      return bounded;
    },
    inFlight: () => held,
    shed: () => shed,
  };
}
