import type { ConnectError } from '@connectrpc/connect';

/**
 * Trailer set by every error boundary: the status was written for callers (no
 * internals), so a trusted hop in front of this service may pass it on as is.
 */
export const sanitizedErrorHeader = 'toolmesh-error-sanitized';

/** True when the error came from a toolmesh error boundary on the other side of the call. */
export function isSanitizedError(error: ConnectError): boolean {
  return error.metadata.get(sanitizedErrorHeader) === '1';
}
