import { type ConnectError, errorFor, isStorageUnavailable } from '@toolmesh/rpc';
import { ModelCircuitOpenError, ModelUnavailableError } from './model/index.ts';

/**
 * The orchestrator's domain errors as rows of the shared error table (typed details
 * included); anything unknown is left to the error boundary, which makes it INTERNAL.
 */
export function mapError(error: unknown): ConnectError | undefined {
  if (error instanceof ModelCircuitOpenError) {
    return errorFor('MODEL_UNAVAILABLE', { retryAfterMs: error.retryAfterMs, cause: error });
  }
  if (error instanceof ModelUnavailableError) return errorFor('MODEL_UNAVAILABLE', { cause: error });
  if (isStorageUnavailable(error)) return errorFor('STORAGE_UNAVAILABLE', { cause: error });
  return undefined;
}
