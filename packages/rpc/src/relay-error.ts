import { Code, ConnectError } from '@connectrpc/connect';
import { createError, errorFor, readErrorInfo } from './error-details.ts';
import { canonicalCodeName } from './grpc-status.ts';
import { isUnsentError } from './is-unsent-error.ts';
import { isSanitizedError } from './sanitized-error.ts';

/** Options of {@link relayError}. */
export interface RelayErrorOptions {
  /** The service called, as callers may read it: "the <dependency> is unavailable". */
  dependency: string;
  /** This call's own signal: a cancellation it did not ask for means the dependency went away. */
  signal: AbortSignal;
}

// Statuses a mesh service raises on purpose, with messages written for the caller.
const relayedCodes = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.PermissionDenied,
  Code.FailedPrecondition,
  Code.Aborted,
  Code.Unauthenticated,
  Code.ResourceExhausted,
]);

/**
 * An error of a trusted mesh hop as this service passes it on to its own caller: answers of
 * the peer's error boundary keep their code, message and typed details (reason, retry hint);
 * a peer that did not answer, or went away mid-call, is DEPENDENCY_UNAVAILABLE; anything
 * else is returned as is, for the error boundary to log and sanitize.
 */
export function relayError(error: unknown, options: RelayErrorOptions): unknown {
  if (!(error instanceof ConnectError)) return error;
  if (relayedCodes.has(error.code) || isSanitizedError(error)) {
    const info = readErrorInfo(error);
    return createError(error.code, info?.reason || canonicalCodeName(error.code), error.rawMessage, {
      ...(info?.retryAfterMs !== undefined ? { retryAfterMs: info.retryAfterMs } : {}),
      ...(info ? { metadata: info.metadata } : {}),
    });
  }
  const dependency = { metadata: { dependency: options.dependency }, cause: error };
  if (error.code === Code.Unavailable || isUnsentError(error)) {
    return errorFor('DEPENDENCY_UNAVAILABLE', dependency);
  }
  if (error.code === Code.Canceled && !options.signal.aborted) {
    return errorFor('DEPENDENCY_UNAVAILABLE', dependency);
  }
  return error;
}
