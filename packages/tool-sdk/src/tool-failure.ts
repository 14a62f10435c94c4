import type { ToolErrorName } from '@toolmesh/rpc';

/**
 * A failure a tool reports on purpose. Its message is shown to the model and the
 * caller, so it must not contain internals; anything else thrown becomes INTERNAL.
 */
export class ToolFailure extends Error {
  readonly code: ToolErrorName;
  readonly retryable: boolean;
  constructor(code: ToolErrorName, message: string, retryable = false) {
    super(message);
    this.name = 'ToolFailure';
    this.code = code;
    this.retryable = retryable;
  }
}

/** Shorthands for the common failures. */
export const toolErrors = {
  invalidArgument: (message: string) => new ToolFailure('INVALID_ARGUMENT', message),
  notFound: (message: string) => new ToolFailure('NOT_FOUND', message),
  permissionDenied: (message: string) => new ToolFailure('PERMISSION_DENIED', message),
  failedPrecondition: (message: string) => new ToolFailure('FAILED_PRECONDITION', message),
  conflict: (message: string) => new ToolFailure('CONFLICT', message),
  unavailable: (message: string) => new ToolFailure('UNAVAILABLE', message, true),
  rateLimited: (message: string) => new ToolFailure('RATE_LIMITED', message, true),
};
