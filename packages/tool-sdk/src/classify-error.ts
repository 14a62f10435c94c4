import {
  Code,
  ConnectError,
  type ErrorReason,
  isSanitizedError,
  isStorageUnavailable,
  readErrorInfo,
  type ToolErrorName,
  toolErrorForStatus,
  toolFailure,
} from '@toolmesh/rpc';
import { ToolFailure } from './tool-failure.ts';

/** A handler's error as the taxonomy sees it, with a message safe for the model. */
export interface ClassifiedError {
  code: ToolErrorName;
  message: string;
  retryable: boolean;
  /** False for errors the handler raised on purpose; those need no log. */
  unexpected: boolean;
  /** The reason of the error table, for the log; absent for a ToolFailure. */
  reason?: ErrorReason | string;
  /** When a retry may succeed, if the error said so. */
  retryAfterMs?: number;
}

// Statuses of another mesh service that say "not now" rather than "your bug".
const transientStatus = new Set([Code.Unavailable, Code.ResourceExhausted, Code.DeadlineExceeded]);

const fromTable = (reason: ErrorReason, tool: string, unexpected: boolean, timeoutMs?: number) => {
  const metadata: Record<string, string> = { tool };
  if (timeoutMs !== undefined) metadata.timeout_ms = String(timeoutMs);
  const { code, message, retryable } = toolFailure(reason, { metadata });
  return { code, message, retryable, unexpected, reason };
};

/** Maps what a handler threw to the error taxonomy, by the rows of the shared error table. */
export function classifyError(error: unknown, toolName: string, timeoutMs: number): ClassifiedError {
  if (error instanceof ToolFailure) {
    return {
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      unexpected: false,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    };
  }
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return fromTable('TOOL_TIMED_OUT', toolName, false, timeoutMs);
  }
  if (error instanceof DOMException && error.name === 'AbortError') {
    return fromTable('CALLER_CANCELLED', toolName, false);
  }
  // Another mesh service the handler called answered "not now" through its error boundary:
  // its message was written for callers, and its typed details say why and when to retry.
  if (error instanceof ConnectError && isSanitizedError(error) && transientStatus.has(error.code)) {
    const info = readErrorInfo(error);
    return {
      code: toolErrorForStatus(error.code) ?? 'UNAVAILABLE',
      message: `${toolName}: ${error.rawMessage}`,
      retryable: true,
      unexpected: false,
      ...(info?.reason ? { reason: info.reason } : {}),
      ...(info?.retryAfterMs !== undefined ? { retryAfterMs: info.retryAfterMs } : {}),
    };
  }
  const code = (error as { code?: unknown } | null)?.code;
  // Postgres cancelled the statement at the deadline (statement_timeout).
  if (code === '57014') return fromTable('DATA_STORE_TIMEOUT', toolName, false);
  // SQLSTATE class 22: the data store refused a value (e.g. NUL in text): bad input.
  if (typeof code === 'string' && /^22\w{3}$/.test(code))
    return fromTable('VALUE_NOT_STORABLE', toolName, false);
  if (isStorageUnavailable(error)) return fromTable('DATA_STORE_UNAVAILABLE', toolName, true);
  return fromTable('TOOL_INTERNAL', toolName, true);
}
