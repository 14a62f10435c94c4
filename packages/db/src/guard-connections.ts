import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  wrap,
} from 'cockatiel';
import type pg from 'pg';

/** Options of {@link guardConnections}. */
export interface ConnectionGuardOptions {
  /** Consecutive failed connection attempts that open the breaker; default 3. */
  failureThreshold?: number;
  /** How long the open breaker refuses at once before one trial; default 2 s. */
  halfOpenAfterMs?: number;
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

/**
 * Puts the pool's connection attempts behind cockatiel: a refused connection is
 * retried once with a short backoff (nothing was sent), and a breaker over
 * connection failures makes callers fail at once while the database is down
 * instead of each waiting for the connect timeout. Queries on an established
 * connection are never retried here.
 */
export function guardConnections(pool: pg.Pool, options: ConnectionGuardOptions = {}): void {
  const breaker = circuitBreaker(handleWhen(connectionFailure), {
    breaker: new ConsecutiveBreaker(options.failureThreshold ?? 3),
    halfOpenAfter: options.halfOpenAfterMs ?? 2_000,
  });
  const policy = wrap(
    retry(handleWhen(connectionFailure), {
      maxAttempts: 1,
      backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 200 }),
    }),
    breaker,
  );
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const guarded = () =>
    policy
      .execute(() => connect())
      .catch((error: unknown) => {
        throw error instanceof BrokenCircuitError ? new DatabaseUnavailableError() : error;
      });
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
