import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { Logger } from '@toolmesh/telemetry';
import { isPublicError, publicError, withErrorInfo } from './error-details.ts';
import { statusMessage } from './error-table.ts';
import { isUndecodableRequest } from './invalid-request-status.ts';
import { sanitizedErrorHeader } from './sanitized-error.ts';

/**
 * Maps a service's domain errors to caller-facing errors (build them with `errorFor` or
 * `createError`, so they carry ErrorInfo and RetryInfo); undefined means "not mine".
 */
export type ErrorMapper = (error: unknown) => ConnectError | undefined;

/** Options of {@link createErrorBoundary}. */
export interface ErrorBoundaryOptions {
  logger: Logger;
  mapError?: ErrorMapper;
}

// Codes whose generic meaning is safe to pass on when the message is not.
const passThroughCodes = new Set<Code>([
  Code.Canceled,
  Code.InvalidArgument,
  Code.DeadlineExceeded,
  Code.NotFound,
  Code.AlreadyExists,
  Code.PermissionDenied,
  Code.ResourceExhausted,
  Code.FailedPrecondition,
  Code.Aborted,
  Code.Unimplemented,
  Code.Unavailable,
  Code.Unauthenticated,
]);

/**
 * The one place where a service's errors become gRPC statuses. Public errors pass
 * unchanged; anything else is logged with its cause and answered with a sanitized
 * status, so internal details never reach a caller. Every status leaves with an
 * ErrorInfo (the code's name as reason when the error had none).
 */
export function createErrorBoundary(options: ErrorBoundaryOptions): Interceptor {
  const { logger, mapError } = options;
  const toPublic = (error: unknown, rpc: string): ConnectError => {
    const status = withErrorInfo(sanitize(error, rpc));
    status.metadata.set(sanitizedErrorHeader, '1');
    return status;
  };
  const sanitize = (error: unknown, rpc: string): ConnectError => {
    if (isPublicError(error)) {
      // E.g. a dependency that did not answer: the caller gets the reason, the log the cause.
      if (error.cause !== undefined)
        logger.warn({ rpc, code: Code[error.code], err: error.cause }, 'rpc failed');
      return error;
    }
    const mapped = mapError?.(error);
    if (mapped) {
      logger.warn({ rpc, code: Code[mapped.code], err: error }, 'rpc failed');
      return mapped;
    }
    if (
      error instanceof ConnectError &&
      error.code === Code.Internal &&
      isUndecodableRequest(error.rawMessage)
    ) {
      return publicError(Code.InvalidArgument, 'invalid request message');
    }
    if (error instanceof ConnectError && passThroughCodes.has(error.code)) {
      logger.warn({ rpc, code: Code[error.code], err: error }, 'rpc failed');
      return publicError(error.code, statusMessage(error.code));
    }
    logger.error({ rpc, err: error }, 'rpc failed with an unexpected error');
    return publicError(Code.Internal, statusMessage(Code.Internal));
  };
  return (next) => async (req) => {
    const rpc = `${req.service.typeName}/${req.method.name}`;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const source = res.message;
      async function* guarded() {
        try {
          yield* source;
        } catch (error) {
          throw toPublic(error, rpc);
        }
      }
      return { ...res, message: guarded() };
    } catch (error) {
      throw toPublic(error, rpc);
    }
  };
}
