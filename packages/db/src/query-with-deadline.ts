import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type pg from 'pg';
import { readPoolSettings } from './create-read-pool.ts';
import { sendCancelRequest } from './send-cancel-request.ts';
import { withTransaction } from './with-transaction.ts';

/**
 * A read ran out of the caller's deadline. SQLSTATE 57014 is "query_canceled", what
 * Postgres raises for statement_timeout: error boundaries map both the same way.
 */
export class QueryDeadlineError extends Error {
  readonly code = '57014';
  constructor() {
    super('canceling statement due to statement timeout (the caller’s deadline passed)');
    this.name = 'QueryDeadlineError';
  }
}

/** Options of {@link queryWithDeadline}. */
export interface QueryWithDeadlineOptions {
  /** Times the deadline; default the read pool's clock (openDatabase's `clock`), else the system clock. */
  clock?: Clock;
}

/** Between cancel requests while a cancelled statement has not answered; a lost request is sent again. */
const cancelRepeatMs = 1_000;
/** Cancel requests sent before the connection is closed without waiting further. */
const cancelAttempts = 3;
/** Node's timers take at most a signed 32-bit delay; a longer deadline is left to statement_timeout. */
const maxTimerMs = 2 ** 31 - 1;

/**
 * Runs one read-only statement that Postgres stops at the caller's deadline (SQLSTATE 57014).
 *
 * On a {@link Database.readPool} it is one statement in one round trip: the connection
 * makes it a read-only transaction by itself. At the deadline the caller hears
 * {@link QueryDeadlineError} at once and Postgres gets a cancel request for that backend;
 * the connection is discarded, never reused, once the statement answers (or after a few
 * unanswered requests), so a late cancel can never hit another statement. The embedded
 * PGlite ignores cancel requests (it runs one statement at a time to its end); there the
 * caller still hears the deadline on time.
 *
 * On any other pool it falls back to a read-only transaction with the deadline as its
 * statement_timeout: three round trips.
 */
export function queryWithDeadline<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  remainingMs: number,
  text: string,
  values: unknown[] = [],
  options: QueryWithDeadlineOptions = {},
): Promise<pg.QueryResult<R>> {
  const settings = readPoolSettings(pool);
  if (!settings) return inReadOnlyTransaction(pool, remainingMs, text, values);
  // Nobody waits for the answer any more: don't start the work.
  if (!(remainingMs > 0)) return Promise.reject(new QueryDeadlineError());
  const clock = options.clock ?? settings.clock ?? systemClock;
  return new Promise<pg.QueryResult<R>>((resolve, reject) => {
    let expired = false;
    let onExpiry: (() => void) | undefined;
    const timer =
      remainingMs <= maxTimerMs
        ? clock.setTimeout(() => {
            expired = true;
            reject(new QueryDeadlineError());
            onExpiry?.();
          }, remainingMs)
        : undefined;
    pool.connect().then(
      (connected) => {
        // Connecting took the whole deadline: nothing was sent, the connection is clean.
        if (expired) return connected.release();
        const query = connected.query<R>(text, values);
        query.then(
          (result) => {
            if (expired) return;
            timer?.cancel();
            connected.release();
            resolve(result);
          },
          (error: unknown) => {
            if (expired) return;
            timer?.cancel();
            // As pg-pool's own query does: a client that failed a statement is not reused.
            connected.release(error instanceof Error ? error : true);
            reject(error);
          },
        );
        onExpiry = () => cancelThenDiscard(connected, query, clock);
      },
      (error: unknown) => {
        if (expired) return;
        timer?.cancel();
        reject(error);
      },
    );
  });
}

/**
 * Cancels the statement running on `client` and discards the connection once it answers.
 * The connection stays checked out until then, so the pool never has more busy backends
 * than its size. A request that reached the backend before the statement started is
 * ignored by Postgres: it is sent again while no answer came, and after the last one the
 * connection is closed regardless (statement_timeout bounds what is left running).
 */
function cancelThenDiscard(client: pg.PoolClient, answered: Promise<unknown>, clock: Clock): void {
  const backend = client as unknown as {
    host: string;
    port: number;
    processID: number | null;
    secretKey: number | null;
  };
  let released = false;
  let repeat: ClockTimer | undefined;
  const release = () => {
    if (released) return;
    released = true;
    repeat?.cancel();
    client.release(new Error('statement cancelled at the caller’s deadline'));
  };
  // A broken connection answers through the statement too; the event must not go unheard.
  client.on('error', release);
  answered.then(release, release);
  let attempts = 0;
  const cancel = () => {
    if (released) return;
    const { processID, secretKey } = backend;
    if (attempts++ >= cancelAttempts || processID === null || secretKey === null) return release();
    sendCancelRequest({ host: backend.host, port: backend.port, processID, secretKey });
    repeat = clock.setTimeout(cancel, cancelRepeatMs);
  };
  cancel();
}

function inReadOnlyTransaction<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  remainingMs: number,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  const timeoutMs = Math.max(1, Math.floor(remainingMs));
  // One round trip: a simple-protocol query may carry several statements.
  return withTransaction(
    pool,
    (client) => client.query<R>(text, values),
    `BEGIN READ ONLY; SET LOCAL statement_timeout = ${timeoutMs}`,
  );
}
