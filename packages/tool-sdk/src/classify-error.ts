import type { ToolErrorName } from '@toolmesh/rpc';
import { ToolFailure } from './tool-failure.ts';

/** A handler's error as the taxonomy sees it, with a message safe for the model. */
export interface ClassifiedError {
  code: ToolErrorName;
  message: string;
  retryable: boolean;
  /** False for errors the handler raised on purpose; those need no log. */
  unexpected: boolean;
}

// Connection-level failures (node errors, SQLSTATE class 08, admin shutdown 57P0x).
const storageDown = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|08\w{3}|57P0\d)$/;

/** Maps what a handler threw to the error taxonomy. */
export function classifyError(error: unknown, toolName: string, timeoutMs: number): ClassifiedError {
  if (error instanceof ToolFailure) {
    return { code: error.code, message: error.message, retryable: error.retryable, unexpected: false };
  }
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return {
      code: 'TIMEOUT',
      message: `${toolName} timed out after ${timeoutMs} ms`,
      retryable: true,
      unexpected: false,
    };
  }
  if (error instanceof DOMException && error.name === 'AbortError') {
    return {
      code: 'TIMEOUT',
      message: 'the caller cancelled or its deadline passed',
      retryable: true,
      unexpected: false,
    };
  }
  const code = (error as { code?: unknown } | null)?.code;
  // Postgres cancelled the statement at the deadline (statement_timeout).
  if (code === '57014') {
    return {
      code: 'TIMEOUT',
      message: `${toolName} timed out in its data store`,
      retryable: true,
      unexpected: false,
    };
  }
  // SQLSTATE class 22: the data store refused a value (e.g. NUL in text): bad input.
  if (typeof code === 'string' && /^22\w{3}$/.test(code)) {
    return {
      code: 'INVALID_ARGUMENT',
      message: 'an argument value cannot be stored',
      retryable: false,
      unexpected: false,
    };
  }
  if (typeof code === 'string' && storageDown.test(code)) {
    return {
      code: 'UNAVAILABLE',
      message: `${toolName}: data store unavailable, retry later`,
      retryable: true,
      unexpected: true,
    };
  }
  return { code: 'INTERNAL', message: 'internal error in the tool', retryable: false, unexpected: true };
}
