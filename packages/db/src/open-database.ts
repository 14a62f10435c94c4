import type { Clock } from '@toolmesh/clock';
import type pg from 'pg';
import { createTracedPool } from './create-traced-pool.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.ts';
import { guardConnections } from './guard-connections.ts';

/** Options of {@link openDatabase}. */
export interface DatabaseOptions {
  /** postgres:// URL; when absent an embedded PGlite database is started in this process. */
  url?: string;
  /** Pool size; default 10. */
  maxConnections?: number;
  /** Name reported to Postgres (pg_stat_activity). */
  applicationName?: string;
  /** Upper bound of any single statement; default 30 s. */
  statementTimeoutMs?: number;
  /** Times the connection breaker; default the system clock. */
  clock?: Clock;
}

/** A connection pool and what it takes to close it. */
export interface Database {
  readonly pool: pg.Pool;
  /** True when running on the embedded database. */
  readonly embedded: boolean;
  close(): Promise<void>;
}

/**
 * Opens a pg pool on DATABASE_URL or, without one, on an embedded PGlite: one code path for both.
 * Its statements are spans of the active trace.
 */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let url = options.url;
  if (!url) {
    embedded = await startEmbeddedPostgres();
    url = embedded.url;
  }
  const pool = createTracedPool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    application_name: options.applicationName,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    connectionTimeoutMillis: 10_000,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  guardConnections(pool, { clock: options.clock });
  return {
    pool,
    embedded: embedded !== undefined,
    async close() {
      await pool.end();
      await embedded?.close();
    },
  };
}
