export {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
export { Counter, Gauge, Histogram, type Registry } from 'prom-client';
export { createLogger, type Logger, type LoggerOptions } from './create-logger.ts';
export {
  createMetricsRegistry,
  eventLoopSamplingMs,
  type MetricsRegistryOptions,
} from './create-metrics-registry.ts';
export { alwaysSensitive, maskSensitive, maskSensitiveJson } from './mask-sensitive.ts';
export {
  acceptRequestId,
  contextWithRequestId,
  currentRequestId,
  maxRequestIdLength,
} from './request-id.ts';
export { type MetricsServer, type MetricsServerOptions, startMetricsServer } from './start-metrics-server.ts';
export { startTelemetry, type Telemetry, type TelemetryOptions } from './start-telemetry.ts';
export { type SamplerName, startTracing, type Tracing, type TracingOptions } from './start-tracing.ts';
export { errorType, traceDependency, tracer } from './trace-dependency.ts';
