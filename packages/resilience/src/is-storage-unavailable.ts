// Connection-level failures of Postgres: node's socket errors, or SQLSTATE classes 08 (connection)
// and 57P (shutdown).
const storageDown = /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|EPIPE|08\w{3}|57P0\d)$/;
// pg's own errors for a pool that cannot reach the server carry no code.
const poolDown = /Connection terminated|timeout exceeded when trying to connect/;

/**
 * True when a SQL store could not be reached or shut down (STORAGE_UNAVAILABLE), as opposed
 * to refusing a statement. Decided by the driver's error code, and for pg's pool errors,
 * which have none, by their fixed message. The database's connection breaker counts these
 * as failures, and error boundaries answer them as STORAGE_UNAVAILABLE: one classifier for both.
 */
export function isStorageUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && storageDown.test(code)) return true;
  return error instanceof Error && poolDown.test(error.message);
}
