import { type Clock, systemClock } from '@toolmesh/clock';
import { CircuitOpenError, createCircuitBreaker, isStorageUnavailable } from '@toolmesh/resilience';
import type pg from 'pg';

/** Options of {@link guardConnections}. */
export interface ConnectionGuardOptions {
  /** Consecutive failed connection attempts that open the breaker; default 3. */
  failureThreshold?: number;
  /** How long the open breaker refuses at once before one trial; default 2 s. */
  halfOpenAfterMs?: number;
  /** Pause before the one retry of a failed connection attempt; default 50 ms. */
  retryDelayMs?: number;
  /** Times the breaker and the retry pause; default the system clock. */
  clock?: Clock;
}

/** Raised instead of waiting on a database known to be down. SQLSTATE 08006 is "connection failure". */
export class DatabaseUnavailableError extends Error {
  readonly code = '08006';
  constructor() {
    super('database unavailable (circuit open)');
    this.name = 'DatabaseUnavailableError';
  }
}

type Release = (error?: Error | boolean) => void;
type ConnectCallback = (error: Error | undefined, client?: pg.PoolClient, done?: Release) => void;

/**
 * Puts the pool's connection attempts behind a breaker: a failed connection attempt is
 * retried once after a short pause (nothing was sent), and once `failureThreshold`
 * attempts failed in a row callers fail at once while the database is down instead of
 * each waiting for the connect timeout. Queries on an established connection are never
 * retried here.
 */
export function guardConnections(pool: pg.Pool, options: ConnectionGuardOptions = {}): void {
  const clock = options.clock ?? systemClock;
  const retryDelayMs = options.retryDelayMs ?? 50;
  // Only failing to get a connection at all speaks against the database (the classifier the
  // error boundaries use). Others are refused during the trial: they would only queue behind
  // its connect timeout.
  const breaker = createCircuitBreaker({
    failureThreshold: options.failureThreshold ?? 3,
    halfOpenAfterMs: options.halfOpenAfterMs ?? 2_000,
    clock,
    duringTrial: 'refuse',
    isFailure: isStorageUnavailable,
  });
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;

  const attempt = async (): Promise<pg.PoolClient> => {
    try {
      return await breaker.execute(connect);
    } catch (error) {
      if (error instanceof CircuitOpenError) throw new DatabaseUnavailableError();
      // Open after this failure: a retry would only be refused.
      if (isStorageUnavailable(error) && breaker.state() !== 'closed') throw new DatabaseUnavailableError();
      throw error;
    }
  };
  const guarded = async (): Promise<pg.PoolClient> => {
    try {
      return await attempt();
    } catch (error) {
      // Nothing was sent on a connection that failed to open, so one more attempt is safe.
      if (error instanceof DatabaseUnavailableError || !isStorageUnavailable(error)) throw error;
      await clock.sleep(retryDelayMs);
      return attempt();
    }
  };
  // pg-pool's own query() calls connect with a callback; both forms must keep working.
  pool.connect = ((callback?: ConnectCallback) => {
    if (!callback) return guarded();
    guarded().then(
      (client) => callback(undefined, client, (error) => client.release(error)),
      (error: Error) => callback(error),
    );
    return undefined;
  }) as typeof pool.connect;
}
