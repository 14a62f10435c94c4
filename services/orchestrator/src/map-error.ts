import { Code, ConnectError } from '@toolmesh/rpc';
import { ModelCircuitOpenError, ModelUnavailableError } from './model/index.ts';

// Connection-level failures of Postgres: node errors, or SQLSTATE classes 08 (connection) and 57P (shutdown).
const storageDown = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|08\w{3}|57P0\d)$/;

/** The orchestrator's domain errors as gRPC statuses; anything unknown stays INTERNAL. */
export function mapError(error: unknown): ConnectError | undefined {
  if (error instanceof ModelCircuitOpenError) {
    const seconds = Math.max(1, Math.ceil(error.retryAfterMs / 1000));
    return new ConnectError(`the model is unavailable, retry after ${seconds} s`, Code.Unavailable);
  }
  if (error instanceof ModelUnavailableError) {
    return new ConnectError('the model is unavailable, retry later', Code.Unavailable);
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && storageDown.test(code)) {
    return new ConnectError('storage is unavailable, retry later', Code.Unavailable);
  }
  if (
    error instanceof Error &&
    /Connection terminated|timeout exceeded when trying to connect/.test(error.message)
  ) {
    return new ConnectError('storage is unavailable, retry later', Code.Unavailable);
  }
  return undefined;
}
