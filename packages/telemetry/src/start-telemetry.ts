import type { Registry } from 'prom-client';
import type { Logger } from './create-logger.ts';
import { createMetricsRegistry } from './create-metrics-registry.ts';
import { type MetricsServer, startMetricsServer } from './start-metrics-server.ts';
import { startTracing, type TracingOptions } from './start-tracing.ts';

/** Options of {@link startTelemetry}. */
export interface TelemetryOptions {
  /** The service's name: service.name of its spans. */
  service: string;
  /** Reports where /metrics listens and OpenTelemetry's own problems. */
  logger?: Logger;
  /** Port of the /metrics endpoint (0 picks a free one); undefined serves none. */
  metricsPort?: number;
  /** Interface /metrics listens on; default 127.0.0.1. */
  host?: string;
  tracing?: TracingOptions;
}

/** The process's telemetry. */
export interface Telemetry {
  /** This process's metrics; pass it to createServer, createGrpcClient and whatever records more. */
  readonly metrics: Registry;
  /** Where /metrics listens, when it does. */
  readonly metricsPort: number | undefined;
  /** True when spans are exported. */
  readonly tracing: boolean;
  /** Closes /metrics and exports the spans still queued; call it last on shutdown. */
  shutdown(): Promise<void>;
}

/**
 * Starts tracing and metrics for one process: the first thing a composition root does.
 * Without a /metrics port the registry still counts (cheaply) but nothing serves it and
 * no process metrics are sampled.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const tracing = await startTracing(options.service, options.tracing ?? {}, options.logger);
  const served = options.metricsPort !== undefined;
  const metrics = createMetricsRegistry({ processMetrics: served });
  let server: MetricsServer | undefined;
  if (options.metricsPort !== undefined) {
    server = await startMetricsServer({ registry: metrics, port: options.metricsPort, host: options.host });
    options.logger?.info({ metrics_port: server.port }, 'metrics listening on /metrics');
  }
  return {
    metrics,
    metricsPort: server?.port,
    tracing: tracing.exporting,
    async shutdown() {
      await server?.close();
      await tracing.shutdown();
    },
  };
}
