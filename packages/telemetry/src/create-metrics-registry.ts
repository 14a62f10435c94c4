import { collectDefaultMetrics, Registry } from 'prom-client';

/** Options of {@link createMetricsRegistry}. */
export interface MetricsRegistryOptions {
  /**
   * Collect process and Node.js runtime metrics (process_cpu_*, memory, handles, GC,
   * event-loop lag); default true.
   */
  processMetrics?: boolean;
  /**
   * Sampling interval of the event-loop lag histogram in ms; default
   * {@link eventLoopSamplingMs}. prom-client's 10 ms wakes the loop 100 times a second for a
   * number scraped every 15 s or so.
   */
  eventLoopPrecisionMs?: number;
}

/**
 * How often the event-loop lag is sampled, in ms. Node's histogram records the time between
 * two samples, not the delay alone: every `nodejs_eventloop_lag_*_seconds` value includes
 * this interval (an idle loop reads ~0.1 s), and the delay is the value less it.
 */
export const eventLoopSamplingMs = 100;

/**
 * A registry of this process's metrics. Each process has its own, passed explicitly to
 * what records into it, instead of prom-client's global one: tests can run several in a
 * process and nothing registers behind the composition root's back.
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) {
    collectDefaultMetrics({
      register: registry,
      eventLoopMonitoringPrecision: options.eventLoopPrecisionMs ?? eventLoopSamplingMs,
    });
  }
  return registry;
}
