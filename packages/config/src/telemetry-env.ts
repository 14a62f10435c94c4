import { z } from 'zod';

/**
 * Port of a service's /metrics endpoint with its default; `off` serves none, `0` picks a
 * free port (tests).
 */
export const metricsPort = (fallback: number) =>
  z.union([z.literal('off'), z.coerce.number().int().min(0).max(65_535)]).default(fallback);

// `key=value,key2=value2` with URL-encoded values, as OTEL_EXPORTER_OTLP_HEADERS and
// OTEL_RESOURCE_ATTRIBUTES are written.
const keyValueList = z.string().transform((s, ctx) => {
  const pairs: Record<string, string> = {};
  for (const item of s.split(',')) {
    if (!item.trim()) continue;
    const at = item.indexOf('=');
    if (at <= 0) {
      ctx.addIssue({ code: 'custom', message: 'expected key=value pairs separated by commas' });
      return z.NEVER;
    }
    try {
      pairs[item.slice(0, at).trim()] = decodeURIComponent(item.slice(at + 1).trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: 'a value is not valid URL encoding' });
      return z.NEVER;
    }
  }
  return pairs;
});

const otlpProtocol = z.enum(['http/protobuf', 'http/json'], {
  error: 'expected http/protobuf or http/json (OTLP over gRPC is not supported)',
});

/**
 * The telemetry variables every service shares, spread into its schema: `METRICS_PORT`
 * (default per service) and the standard OpenTelemetry ones for traces. With no OTLP
 * endpoint nor `OTEL_TRACES_EXPORTER` nothing is exported.
 */
export const telemetryEnv = (metricsPortDefault: number) => ({
  METRICS_PORT: metricsPort(metricsPortDefault),
  OTEL_SDK_DISABLED: z.enum(['true', 'false']).default('false'),
  OTEL_SERVICE_NAME: z.string().min(1).max(256).optional(),
  OTEL_RESOURCE_ATTRIBUTES: keyValueList.optional(),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none']).optional(),
  /** Base URL of the collector; traces go to `${base}/v1/traces`. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** Full URL of the traces endpoint; wins over the base. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList.optional(),
  OTEL_EXPORTER_OTLP_TRACES_HEADERS: keyValueList.optional(),
  OTEL_TRACES_SAMPLER: z
    .enum([
      'always_on',
      'always_off',
      'traceidratio',
      'parentbased_always_on',
      'parentbased_always_off',
      'parentbased_traceidratio',
    ])
    .default('parentbased_always_on'),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
  /** Delay between two batch exports, ms. */
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(0).default(5_000),
});

/** The parsed {@link telemetryEnv}. */
export type TelemetryEnv = z.output<z.ZodObject<ReturnType<typeof telemetryEnv>>>;

/** The parsed {@link telemetryEnv}, shaped for `startTelemetry` of @toolmesh/telemetry. */
export function telemetrySettings(c: TelemetryEnv) {
  const base = c.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  const endpoint = c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base}/v1/traces` : undefined);
  const exporter: 'otlp' | 'console' | 'none' =
    c.OTEL_SDK_DISABLED === 'true' ? 'none' : (c.OTEL_TRACES_EXPORTER ?? (endpoint ? 'otlp' : 'none'));
  return {
    metricsPort: c.METRICS_PORT === 'off' ? undefined : c.METRICS_PORT,
    tracing: {
      exporter,
      endpoint,
      protocol: c.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? c.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf',
      headers: { ...c.OTEL_EXPORTER_OTLP_HEADERS, ...c.OTEL_EXPORTER_OTLP_TRACES_HEADERS },
      serviceName: c.OTEL_SERVICE_NAME,
      resourceAttributes: c.OTEL_RESOURCE_ATTRIBUTES ?? {},
      sampler: c.OTEL_TRACES_SAMPLER,
      samplerRatio: c.OTEL_TRACES_SAMPLER_ARG,
      scheduledDelayMs: c.OTEL_BSP_SCHEDULE_DELAY,
    },
  };
}
