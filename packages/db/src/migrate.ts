import type pg from 'pg';
import { withTransaction } from './with-transaction.ts';

/** One forward-only schema change. Versions are applied in ascending order, once. */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The service's own schema; every table of the service lives in it. */
  schema: string;
  migrations: Migration[];
}

const identifier = /^[a-z_][a-z0-9_]*$/;

/**
 * Brings the service's schema up to date. Safe with several replicas starting at
 * once: an advisory lock serializes them and each version is applied once.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions): Promise<number[]> {
  const { schema } = options;
  if (!identifier.test(schema)) throw new Error(`invalid schema name ${schema}`);
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`toolmesh.migrate.${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
         version integer PRIMARY KEY,
         description text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = await client.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations`);
    const applied = new Set(done.rows.map((r) => r.version));
    const newlyApplied: number[] = [];
    for (const m of [...options.migrations].sort((a, b) => a.version - b.version)) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query(`INSERT INTO ${schema}.schema_migrations (version, description) VALUES ($1, $2)`, [
        m.version,
        m.description,
      ]);
      newlyApplied.push(m.version);
    }
    return newlyApplied;
  });
}
