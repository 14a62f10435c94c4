import { context, isSpanContextValid, trace } from '@opentelemetry/api';
import { type DestinationStream, type Logger, pino } from 'pino';
import { maskSensitive } from './mask-sensitive.ts';
import { currentRequestId } from './request-id.ts';

export type { Logger };

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Service name stamped on every line. */
  service: string;
  /** pino level; default "info". */
  level?: string;
  /** Where lines go; default stdout. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
  /** Field names masked in every line, besides the always-sensitive ones. */
  sensitiveFields?: readonly string[];
}

// Correlation fields of the call being served, read from the active context at each line:
// the request id (every RPC has one) and, when the call is traced, its trace and span.
function correlation(): Record<string, string> {
  const active = context.active();
  const fields: Record<string, string> = {};
  const span = trace.getSpanContext(active);
  if (span && isSpanContextValid(span)) {
    fields.trace_id = span.traceId;
    fields.span_id = span.spanId;
  }
  const requestId = currentRequestId(active);
  if (requestId) fields.request_id = requestId;
  return fields;
}

/** Creates the structured JSON logger every process uses. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: correlation,
      formatters: {
        level: (label) => ({ level: label }),
        // The same masking policy as the audit log and streamed events.
        log: (object) => maskSensitive(object, options.sensitiveFields) as Record<string, unknown>,
      },
    },
    options.destination,
  );
}
