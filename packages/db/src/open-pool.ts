import type { Clock } from '@toolmesh/clock';
import type pg from 'pg';
import { createTracedPool } from './create-traced-pool.ts';
import { guardConnections } from './guard-connections.ts';

/** Options of {@link openPool}. */
export interface PoolOptions {
  /** postgres:// URL. */
  url: string;
  max: number;
  /** Name reported to Postgres (pg_stat_activity). */
  applicationName?: string;
  /** The ceiling of any statement. */
  statementTimeoutMs: number;
  /** Times the connection breaker. */
  clock?: Clock;
  /** Prepare each parameterized statement once per connection; default true. */
  preparedStatements?: boolean;
}

/** A traced pg pool behind the connection breaker, as every pool of a process is opened. */
export function openPool(options: PoolOptions): pg.Pool {
  const pool = createTracedPool(
    {
      connectionString: options.url,
      max: options.max,
      application_name: options.applicationName,
      statement_timeout: options.statementTimeoutMs,
      connectionTimeoutMillis: 10_000,
    },
    { preparedStatements: options.preparedStatements },
  );
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  guardConnections(pool, { clock: options.clock });
  return pool;
}
