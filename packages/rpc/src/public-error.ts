import { type Code, ConnectError } from '@connectrpc/connect';

// Errors a handler raises on purpose carry a message written for the caller.
// Every other error may hold internals (addresses, SQL, stack) and is rewritten
// by the error boundary.
const publicErrors = new WeakSet<ConnectError>();

/** Creates an error whose code and message are meant for the caller. */
export function publicError(code: Code, message: string): ConnectError {
  const error = new ConnectError(message, code);
  publicErrors.add(error);
  return error;
}

/** True for errors created with {@link publicError}. */
export function isPublicError(error: unknown): error is ConnectError {
  return error instanceof ConnectError && publicErrors.has(error);
}
