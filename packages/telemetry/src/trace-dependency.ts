import { type Attributes, context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

/** The tracer of every toolmesh span; a no-op until tracing is started. */
export const tracer = trace.getTracer('toolmesh');

/**
 * The `error.type` of a failure: the error's class name, never its message (messages
 * may carry data). Bounded by the error classes the code raises.
 */
export function errorType(error: unknown): string {
  if (error instanceof Error) return error.name || error.constructor.name || 'Error';
  return '_OTHER';
}

/**
 * Runs `fn` inside a CLIENT span for a call to a dependency (Redis, an HTTP service).
 * Only when a recorded span is active: background work (pollers, refreshers) makes no
 * root spans of its own, and with tracing off this costs one lookup.
 */
export async function traceDependency<T>(
  name: string,
  attributes: Attributes,
  fn: () => Promise<T>,
): Promise<T> {
  const parent = context.active();
  if (!trace.getSpan(parent)?.isRecording()) return fn();
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (error) {
    span.setAttribute('error.type', errorType(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
