import { randomUUID } from 'node:crypto';
import { context, type DiagLogger, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Sampler, SpanExporter } from '@opentelemetry/sdk-trace';
import type { Logger } from 'pino';

/** The standard OTEL_TRACES_SAMPLER names. */
export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

/** Options of {@link startTracing}, as the standard OTEL_* variables describe them. */
export interface TracingOptions {
  /** Where spans go; default "none" (spans are not even recorded). "console" is for debugging. */
  exporter?: 'otlp' | 'console' | 'none';
  /** The URL spans are POSTed to (ending in /v1/traces); default http://localhost:4318/v1/traces. */
  endpoint?: string;
  /** OTLP over HTTP, protobuf (default) or JSON. */
  protocol?: 'http/protobuf' | 'http/json';
  /** Sent with every export, e.g. an API key of the collector. */
  headers?: Record<string, string>;
  /** service.name; default the service's own name. */
  serviceName?: string;
  /** More resource attributes (deployment.environment.name, k8s.pod.name, …). */
  resourceAttributes?: Record<string, string>;
  /** Default parentbased_always_on: a sampled caller's trace is always continued. */
  sampler?: SamplerName;
  /** Ratio of the traceidratio samplers, 0 to 1; default 1. */
  samplerRatio?: number;
  /** Delay between two batch exports in ms; default 5000. */
  scheduledDelayMs?: number;
}

/** Running tracing; {@link Tracing.shutdown} exports what is still queued. */
export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly exporting: boolean;
  shutdown(): Promise<void>;
}

// OpenTelemetry reports its own trouble (an unreachable collector) through diag.
function diagLogger(logger: Logger): DiagLogger {
  const warn = (message: string) => logger.warn({ component: 'opentelemetry' }, message);
  return { error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} };
}

async function createSampler(options: TracingOptions): Promise<Sampler> {
  const sdk = await import('@opentelemetry/sdk-trace');
  const ratio = new sdk.TraceIdRatioBasedSampler(options.samplerRatio ?? 1);
  switch (options.sampler ?? 'parentbased_always_on') {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: ratio });
    default:
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
  }
}

async function createExporter(options: TracingOptions): Promise<SpanExporter> {
  if (options.exporter === 'console')
    return new (await import('@opentelemetry/sdk-trace')).ConsoleSpanExporter();
  const config = {
    url: options.endpoint ?? 'http://localhost:4318/v1/traces',
    headers: options.headers ?? {},
  };
  if (options.protocol === 'http/json') {
    return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(config);
  }
  return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter(config);
}

/**
 * Sets up OpenTelemetry for this process. The context manager and the W3C trace-context
 * propagator are always installed (they carry the request id and a caller's trace on);
 * a tracer provider with a batch span processor only when spans are exported, so with
 * the default exporter "none" every span is a no-op and costs next to nothing. The SDK
 * and the exporters are loaded only then.
 */
export async function startTracing(
  service: string,
  options: TracingOptions,
  logger?: Logger,
): Promise<Tracing> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (logger) diag.setLogger(diagLogger(logger), DiagLogLevel.WARN);
  const exporter = options.exporter ?? 'none';
  if (exporter === 'none') return { exporting: false, shutdown: async () => {} };

  const [sdk, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/resources'),
  ]);
  const provider = new sdk.TracerProvider({
    resource: resources.defaultResource().merge(
      resources.resourceFromAttributes({
        'service.name': options.serviceName ?? service,
        'service.namespace': 'toolmesh',
        'service.instance.id': randomUUID(),
        ...options.resourceAttributes,
      }),
    ),
    sampler: await createSampler(options),
    // Batched: the simple processor exports span by span on the request path.
    spanProcessors: [
      new sdk.BatchSpanProcessor({
        exporter: await createExporter(options),
        scheduledDelayMillis: options.scheduledDelayMs ?? 5_000,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    exporting: true,
    async shutdown() {
      // Flushes the queue; an unreachable collector is reported by diag, not thrown.
      await provider
        .shutdown()
        .catch((error: unknown) => logger?.warn({ err: error }, 'flushing spans failed'));
    },
  };
}
