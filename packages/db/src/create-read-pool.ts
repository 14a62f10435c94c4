import type { Clock } from '@toolmesh/clock';
import type pg from 'pg';
import { openPool, type PoolOptions } from './open-pool.ts';

/** Options of {@link createReadPool}; its clock also times the deadlines of queryWithDeadline. */
export type ReadPoolOptions = PoolOptions;

/** What {@link queryWithDeadline} needs to know about a read pool. */
export interface ReadPoolSettings {
  clock?: Clock;
}

/** Started on every read connection: each statement is its own read-only transaction. */
export const readOnlyStartupOption = '-c default_transaction_read_only=on';

const readPools = new WeakMap<pg.Pool, ReadPoolSettings>();

/** The settings of a pool made by {@link createReadPool}; undefined for any other pool. */
export function readPoolSettings(pool: pg.Pool): ReadPoolSettings | undefined {
  return readPools.get(pool);
}

// pg lets the URL's parameters override the config's, so a URL carrying its own
// `options` would silently drop the read-only one: it goes into the URL, after theirs.
function withReadOnlyOption(url: string): string {
  const parsed = new URL(url);
  const own = parsed.searchParams.get('options');
  parsed.searchParams.set('options', own ? `${own} ${readOnlyStartupOption}` : readOnlyStartupOption);
  return parsed.toString();
}

/**
 * A pool whose connections start with `default_transaction_read_only=on`: a statement
 * sent alone is an implicit read-only transaction, so a read costs one round trip and
 * still cannot write (SQLSTATE 25006). Traced and guarded like the main pool.
 */
export function createReadPool(options: ReadPoolOptions): pg.Pool {
  const pool = openPool({ ...options, url: withReadOnlyOption(options.url) });
  readPools.set(pool, { clock: options.clock });
  return pool;
}
