import type { ToolErrorName } from '@toolmesh/rpc';

/** Options of {@link ToolFailure}. */
export interface ToolFailureOptions {
  /** When a retry may succeed, in ms (e.g. a dependency's retry hint); tasks back off at least this long. */
  retryAfterMs?: number;
  /** What went wrong inside, for the log; never shown to the model. */
  cause?: unknown;
}

/**
 * A failure a tool reports on purpose. Its message is shown to the model and the
 * caller, so it must not contain internals; anything else thrown becomes INTERNAL.
 */
export class ToolFailure extends Error {
  readonly code: ToolErrorName;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  constructor(code: ToolErrorName, message: string, retryable = false, options: ToolFailureOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ToolFailure';
    this.code = code;
    this.retryable = retryable;
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** Shorthands for the common failures. */
export const toolErrors = {
  invalidArgument: (message: string) => new ToolFailure('INVALID_ARGUMENT', message),
  notFound: (message: string) => new ToolFailure('NOT_FOUND', message),
  permissionDenied: (message: string) => new ToolFailure('PERMISSION_DENIED', message),
  failedPrecondition: (message: string) => new ToolFailure('FAILED_PRECONDITION', message),
  conflict: (message: string) => new ToolFailure('CONFLICT', message),
  unavailable: (message: string, retryAfterMs?: number) =>
    new ToolFailure('UNAVAILABLE', message, true, retryAfterMs === undefined ? {} : { retryAfterMs }),
  rateLimited: (message: string, retryAfterMs?: number) =>
    new ToolFailure('RATE_LIMITED', message, true, retryAfterMs === undefined ? {} : { retryAfterMs }),
};
