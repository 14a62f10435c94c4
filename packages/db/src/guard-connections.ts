import { type Clock, systemClock } from '@toolmesh/clock';
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

// Failing to get a connection at all: nothing was sent, so trying again is safe.
const connectionFailure = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    (typeof code === 'string' &&
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|08\w{3}|57P0\d)$/.test(code)) ||
    (error instanceof Error &&
      /timeout exceeded when trying to connect|Connection terminated/.test(error.message))
  );
};

type Release = (error?: Error | boolean) => void;
type ConnectCallback = (error: Error | undefined, client?: pg.PoolClient, done?: Release) => void;

/** How an attempt got past the breaker: as usual, or as the one trial of a half-open breaker. */
type Admission = 'closed' | 'trial';

/**
 * A consecutive-failure breaker over connection attempts: closed counts failures, open
 * refuses until `halfOpenAfterMs` passed, then one trial decides (others are refused
 * meanwhile). Any answer other than a connection failure proves the database reachable.
 */
function createConnectionBreaker(threshold: number, halfOpenAfterMs: number, clock: Clock) {
  let failures = 0;
  let openedAt: number | undefined;
  let trialRunning = false;
  return {
    /** Whether an attempt may go out now, and how; undefined refuses it. */
    admit(): Admission | undefined {
      if (openedAt === undefined) return 'closed';
      if (trialRunning || clock.now() - openedAt < halfOpenAfterMs) return undefined;
      trialRunning = true;
      return 'trial';
    },
    /** Records an attempt's outcome; answers whether the breaker is open afterwards. */
    record(admission: Admission, failed: boolean): boolean {
      if (admission === 'trial') trialRunning = false;
      if (!failed) {
        failures = 0;
        openedAt = undefined;
        return false;
      }
      failures++;
      if (admission === 'trial' || failures >= threshold) openedAt = clock.now();
      return openedAt !== undefined;
    },
  };
}

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
  const breaker = createConnectionBreaker(
    options.failureThreshold ?? 3,
    options.halfOpenAfterMs ?? 2_000,
    clock,
  );
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;

  const attempt = async (): Promise<pg.PoolClient> => {
    const admission = breaker.admit();
    if (!admission) throw new DatabaseUnavailableError();
    try {
      const client = await connect();
      breaker.record(admission, false);
      return client;
    } catch (error) {
      const failed = connectionFailure(error);
      // Open after this failure: a retry would only be refused.
      if (breaker.record(admission, failed) && failed) throw new DatabaseUnavailableError();
      throw error;
    }
  };
  const guarded = async (): Promise<pg.PoolClient> => {
    try {
      return await attempt();
    } catch (error) {
      if (error instanceof DatabaseUnavailableError || !connectionFailure(error)) throw error;
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
