// A pool that counts the SQL transactions sent through it: an autocommit statement is
// one, BEGIN … COMMIT (or ROLLBACK) on a client is one — what pg_stat_database counts,
// without its reporting delay.
import type { Pool, PoolClient } from '@toolmesh/db';

/** A pool and what went through it. */
export interface CountingPool {
  pool: Pool;
  /** Transactions so far. */
  transactions(): number;
  /** Makes the next COMMIT wait until the returned function is called (or fail with `error`). */
  holdNextCommit(error?: Error): () => void;
}

const textOf = (first: unknown) =>
  typeof first === 'string' ? first : String((first as { text?: unknown } | undefined)?.text ?? '');

/** Wraps `pool`; stores made on the wrapper share its own group-commit batcher. */
export function countingPool(pool: Pool): CountingPool {
  let transactions = 0;
  let held: { error?: Error; until: Promise<void> } | undefined;
  const wrapClient = (client: PoolClient): PoolClient => {
    let inTransaction = false;
    return new Proxy(client, {
      get(target, prop) {
        if (prop !== 'query') {
          const value = Reflect.get(target, prop);
          return typeof value === 'function' ? value.bind(target) : value;
        }
        return async (...args: unknown[]) => {
          const text = textOf(args[0]).trim().toUpperCase();
          if (text === 'BEGIN') {
            inTransaction = true;
            transactions++;
          } else if (text === 'COMMIT' || text === 'ROLLBACK') {
            inTransaction = false;
            if (text === 'COMMIT' && held) {
              const { error, until } = held;
              held = undefined;
              await until;
              if (error) {
                await target.query('ROLLBACK');
                throw error;
              }
            }
          } else if (!inTransaction) {
            transactions++;
          }
          return (target.query as (...a: unknown[]) => unknown)(...args);
        };
      },
    });
  };
  const wrapped = new Proxy(pool, {
    get(target, prop) {
      if (prop === 'query') {
        return (...args: unknown[]) => {
          transactions++;
          return (target.query as (...a: unknown[]) => unknown)(...args);
        };
      }
      if (prop === 'connect') return async () => wrapClient(await target.connect());
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    pool: wrapped,
    transactions: () => transactions,
    holdNextCommit(error) {
      let open = () => {};
      held = {
        until: new Promise<void>((resolve) => {
          open = resolve;
        }),
        ...(error ? { error } : {}),
      };
      return open;
    },
  };
}
