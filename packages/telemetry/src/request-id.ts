import { type Context, context, createContextKey } from '@opentelemetry/api';

// Kept in the OpenTelemetry context next to the active span, so the logger can stamp
// both on a line without anyone passing them along.
const requestIdKey = createContextKey('toolmesh.request_id');

/** Longest request id accepted from a caller; longer ones are replaced. */
export const maxRequestIdLength = 128;

/** `ctx` carrying `requestId`, for {@link currentRequestId} and the logger to find. */
export function contextWithRequestId(ctx: Context, requestId: string): Context {
  return ctx.setValue(requestIdKey, requestId);
}

/** The request id of the call being served (or of `ctx`), if any. */
export function currentRequestId(ctx: Context = context.active()): string | undefined {
  const value = ctx.getValue(requestIdKey);
  return typeof value === 'string' ? value : undefined;
}

/**
 * A caller's request id if it is safe to log and pass on (printable ASCII, bounded),
 * otherwise undefined so that a fresh one is generated.
 */
export function acceptRequestId(value: string | null | undefined): string | undefined {
  if (!value || value.length > maxRequestIdLength || /[^\x21-\x7e]/.test(value)) return undefined;
  return value;
}
