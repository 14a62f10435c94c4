import { type Clock, systemClock } from '@toolmesh/clock';
import { Counter, Gauge, type Registry } from '@toolmesh/telemetry';
import { createConcurrencyLimiter, type Release } from './concurrency-limiter.ts';

/** Options of {@link createAdmissionLimiter}. */
export interface AdmissionLimiterOptions {
  /** Units of work (e.g. chat turns) admitted at once; a positive integer. */
  limit: number;
  /** Floor of the retry hint; default 100 ms (a hint of 0 invites a tight retry loop). */
  minRetryAfterMs?: number;
  /** Ceiling of the retry hint; default 5 s (long streams must not push callers away for minutes). */
  maxRetryAfterMs?: number;
  /** Times how long admitted work holds its slot (the retry hint); default the system clock. */
  clock?: Clock;
  /**
   * Registers `<prefix>_in_flight`, `<prefix>_in_flight_limit` (gauges) and `<prefix>_shed_total`
   * (counter) here; absent: no metrics.
   */
  metrics?: { registry: Registry; prefix: string; help: string };
}

/** Load shedding in front of costly work; made by {@link createAdmissionLimiter}. */
export interface AdmissionLimiter {
  /** The bound. */
  readonly limit: number;
  /**
   * A slot at once, or undefined when `limit` units are in flight: the caller is refused
   * instead of queued, so admitted work keeps its latency. Release the slot when the work
   * ends (a stream: when it closes); releasing twice does nothing.
   */
  tryAdmit(): Release | undefined;
  /**
   * When a refused caller may try again: the recent mean time a unit held its slot, times the
   * callers refused per caller admitted over about the last second (at least 1), within
   * [minRetryAfterMs, maxRetryAfterMs]. Before any unit finished, the mean counts as 1 s.
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

/**
 * A bound on work in flight that refuses (never queues) beyond it, with a retry hint from
 * how long admitted work has been holding its slots. Queueing at a saturated server only
 * adds the queue's wait to every request; refusing at once lets callers retry elsewhere or
 * later while the admitted ones keep their latency.
 */
export function createAdmissionLimiter(options: AdmissionLimiterOptions): AdmissionLimiter {
  const { limit } = options;
  const clock = options.clock ?? systemClock;
  const minRetry = options.minRetryAfterMs ?? 100;
  const maxRetry = Math.max(minRetry, options.maxRetryAfterMs ?? 5_000);
  const slots = createConcurrencyLimiter({ limit, maxQueue: 0, clock });
  let shed = 0;
  let meanHoldMs: number | undefined;
  // Admissions and refusals, each decayed by e^(-Δt/rateWindowMs): their ratio says how many
  // times over its capacity the process is asked. Refused callers that all came back after one
  // hold time would be refused again in that ratio, so the hint spreads them over as many.
  let recentAdmitted = 0;
  let recentShed = 0;
  let decayedAt = clock.now();
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
        this.set(slots.inFlight());
      },
    });
    new Gauge({
      name: `${metrics.prefix}_in_flight_limit`,
      help: `${metrics.help} this process admits at once.`,
      registers: [metrics.registry],
    }).set(limit);
  }

  return {
    limit,
    tryAdmit() {
      const release = slots.tryAcquire();
      decay();
      if (!release) {
        recentShed++;
        shed++;
        shedCounter?.inc();
        return undefined;
      }
      recentAdmitted++;
      const admittedAt = clock.now();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const held = Math.max(0, clock.now() - admittedAt);
        meanHoldMs = meanHoldMs === undefined ? held : meanHoldMs + weight * (held - meanHoldMs);
        release();
      };
    },
    retryAfterMs() {
      decay();
      const pressure = Math.max(1, recentShed / Math.max(1, recentAdmitted));
      const hint = (meanHoldMs ?? 1_000) * pressure;
      return Math.round(Math.min(maxRetry, Math.max(minRetry, hint)));
    },
    inFlight: () => slots.inFlight(),
    shed: () => shed,
  };
}
