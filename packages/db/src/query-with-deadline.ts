import type pg from 'pg';
import { withTransaction } from './with-transaction.ts';

/**
 * Runs one statement with the caller's remaining deadline as its statement_timeout,
 * so Postgres itself cancels work nobody waits for any more (SQLSTATE 57014).
 * The embedded PGlite ignores statement_timeout; there the caller's own timeout
 * still answers on time.
 */
export function queryWithDeadline<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  remainingMs: number,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const timeoutMs = Math.max(1, Math.floor(remainingMs));
  // One round trip: a simple-protocol query may carry several statements.
  return withTransaction(
    pool,
    (client) => client.query<R>(text, values),
    `BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeoutMs}`,
  );
}
