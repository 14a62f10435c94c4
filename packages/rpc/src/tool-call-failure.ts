import { Code, ConnectError } from '@connectrpc/connect';
import { type ToolFailureInfo, toolFailure } from './error-table.ts';
import { isSanitizedError } from './sanitized-error.ts';

/**
 * The connection broke while a call was out (the replica died, the stream was reset): not
 * an answer of the peer's error boundary. Safe to repeat only for idempotent requests.
 */
export function isBrokenInTransit(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    !isSanitizedError(error) &&
    // connect-node reports a reset connection (ECONNRESET) as ABORTED.
    [Code.Unavailable, Code.Internal, Code.Unknown, Code.Canceled, Code.Aborted].includes(error.code)
  );
}

/** Options of {@link toolCallFailure}. */
export interface ToolCallFailureOptions {
  /** A timed-out write may still commit: only idempotent tools may be retried after a timeout. */
  idempotent: boolean;
}

/**
 * What an InvokeTool call that threw (rather than answering a ToolError) means for the model:
 * a timeout, an unavailable or overloaded tool service, or TOOL_CALL_FAILED — our bug,
 * which the caller logs with the cause.
 */
export function toolCallFailure(error: unknown, options: ToolCallFailureOptions): ToolFailureInfo {
  const code = error instanceof ConnectError ? error.code : Code.Unknown;
  if (code === Code.DeadlineExceeded) {
    return { ...toolFailure('TOOL_DEADLINE_EXCEEDED'), retryable: options.idempotent };
  }
  if (isBrokenInTransit(error) || [Code.Unavailable, Code.Unknown, Code.Canceled].includes(code)) {
    return toolFailure('TOOL_SERVICE_UNAVAILABLE');
  }
  if (code === Code.ResourceExhausted) return toolFailure('TOOL_SERVICE_OVERLOADED');
  return toolFailure('TOOL_CALL_FAILED');
}
