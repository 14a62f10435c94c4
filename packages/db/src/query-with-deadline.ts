import type pg from 'pg';

/**
 * Runs one statement with the caller's remaining deadline as its statement_timeout,
 * so Postgres itself cancels work nobody waits for any more (SQLSTATE 57014).
 * The embedded PGlite ignores statement_timeout; there the caller's own timeout
 * still answers on time.
 */
export async function queryWithDeadline<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  remainingMs: number,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const timeoutMs = Math.max(1, Math.floor(remainingMs));
  const client = await pool.connect();
  try {
    // One round trip: a simple-protocol query may carry several statements.
    await client.query(`BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeoutMs}`);
    const result = await client.query<R>(text, values);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
