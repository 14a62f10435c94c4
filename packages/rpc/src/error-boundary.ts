import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { Logger } from '@toolmesh/telemetry';
import { isUndecodableRequest } from './invalid-request-status.ts';
import { isPublicError } from './public-error.ts';
import { sanitizedErrorHeader } from './sanitized-error.ts';

/** Maps a service's domain errors to caller-facing errors; undefined means "not mine". */
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

const genericMessages: Partial<Record<Code, string>> = {
  [Code.Canceled]: 'the call was cancelled',
  [Code.DeadlineExceeded]: 'deadline exceeded',
  [Code.Unavailable]: 'a dependency is unavailable, retry later',
  [Code.ResourceExhausted]: 'resource exhausted, retry later',
};

/**
 * The one place where a service's errors become gRPC statuses. Public errors pass
 * unchanged; anything else is logged with its cause and answered with a sanitized
 * status, so internal details never reach a caller.
 */
export function createErrorBoundary(options: ErrorBoundaryOptions): Interceptor {
  const { logger, mapError } = options;
  const toPublic = (error: unknown, rpc: string): ConnectError => {
    const status = sanitize(error, rpc);
    status.metadata.set(sanitizedErrorHeader, '1');
    return status;
  };
  const sanitize = (error: unknown, rpc: string): ConnectError => {
    if (isPublicError(error)) return error;
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
      return new ConnectError('invalid request message', Code.InvalidArgument);
    }
    if (error instanceof ConnectError && passThroughCodes.has(error.code)) {
      logger.warn({ rpc, code: Code[error.code], err: error }, 'rpc failed');
      return new ConnectError(genericMessages[error.code] ?? Code[error.code] ?? 'error', error.code);
    }
    logger.error({ rpc, err: error }, 'rpc failed with an unexpected error');
    return new ConnectError('internal error', Code.Internal);
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
