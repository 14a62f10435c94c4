import type { Clock } from '@toolmesh/clock';
import type pg from 'pg';
import { createReadPool } from './create-read-pool.ts';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.ts';
import { openPool } from './open-pool.ts';

/** Options of {@link openDatabase}. */
export interface DatabaseOptions {
  /** postgres:// URL; when absent an embedded PGlite database is started in this process. */
  url?: string;
  /** Pool size; default 10. */
  maxConnections?: number;
  /** Size of the read pool ({@link Database.readPool}); default `maxConnections`. */
  maxReadConnections?: number;
  /** Name reported to Postgres (pg_stat_activity). */
  applicationName?: string;
  /** Upper bound of any single statement; default 30 s. */
  statementTimeoutMs?: number;
  /**
   * Prepare each parameterized statement once per connection (default true); false behind a
   * pooler in transaction mode that cannot keep prepared statements.
   */
  preparedStatements?: boolean;
  /** Times the connection breakers and the read pool's deadlines; default the system clock. */
  clock?: Clock;
}

/** The connection pools and what it takes to close them. */
export interface Database {
  /** Reads and writes, transactions, migrations. */
  readonly pool: pg.Pool;
  /**
   * Read-only connections (`default_transaction_read_only=on`) for {@link queryWithDeadline}:
   * a read is one statement, one round trip, and cannot write. Opens no connection until used.
   */
  readonly readPool: pg.Pool;
  /** True when running on the embedded database. */
  readonly embedded: boolean;
  close(): Promise<void>;
}

/**
 * Opens pg pools on DATABASE_URL or, without one, on an embedded PGlite: one code path for both.
 * Their statements are spans of the active trace.
 */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  let embedded: EmbeddedPostgres | undefined;
  let url = options.url;
  if (!url) {
    embedded = await startEmbeddedPostgres();
    url = embedded.url;
  }
  const max = options.maxConnections ?? 10;
  const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
  const common = {
    url,
    applicationName: options.applicationName,
    statementTimeoutMs,
    clock: options.clock,
    preparedStatements: options.preparedStatements,
  };
  const pool = openPool({ ...common, max });
  const readPool = createReadPool({ ...common, max: options.maxReadConnections ?? max });
  return {
    pool,
    readPool,
    embedded: embedded !== undefined,
    async close() {
      await Promise.all([pool.end(), readPool.end()]);
      await embedded?.close();
    },
  };
}
