import { Code, ConnectError } from '@connectrpc/connect';
import { isUnsentError } from './is-unsent-error.ts';
import { isSanitizedError } from './sanitized-error.ts';

/**
 * A failure of the hop itself, not an answer of the peer's error boundary: the request was
 * never sent, or the peer did not answer (UNAVAILABLE, DEADLINE_EXCEEDED raised on this side).
 * Only these count against an upstream's circuit breaker.
 */
export function isTransportFailure(error: unknown): boolean {
  return (
    isUnsentError(error) ||
    (error instanceof ConnectError &&
      !isSanitizedError(error) &&
      (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded))
  );
}
