import { collectDefaultMetrics, Registry } from 'prom-client';

/** Options of {@link createMetricsRegistry}. */
export interface MetricsRegistryOptions {
  /**
   * Collect process and Node.js runtime metrics (process_cpu_*, memory, handles, GC,
   * event-loop lag); default true.
   */
  processMetrics?: boolean;
  /**
   * Sampling interval of the event-loop lag histogram in ms; default 100. prom-client's
   * 10 ms wakes the loop 100 times a second for a number scraped every 15 s or so.
   */
  eventLoopPrecisionMs?: number;
}

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
      eventLoopMonitoringPrecision: options.eventLoopPrecisionMs ?? 100,
    });
  }
  return registry;
}
