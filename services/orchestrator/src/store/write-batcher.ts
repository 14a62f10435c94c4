import type { Pool, PoolClient } from '@toolmesh/db';

/** Where a kind's statement runs: the flush's transaction, or the pool alone. */
export type Queryable = Pick<Pool, 'query'> | Pick<PoolClient, 'query'>;

/**
 * A kind of write whose rows, from any number of callers, are merged into one
 * statement per flush (a multi-row INSERT or UPDATE over unnest).
 */
export interface WriteKind<Row, Result = void> {
  readonly name: string;
  /** Position among kinds in one transaction, lower first (a conversation before its messages). */
  readonly order: number;
  /** Runs `rows` in one statement (one per row when `perRow`); answers each row's result in order. */
  run(db: Queryable, rows: Row[]): Promise<Result[]>;
  readonly perRow?: boolean;
}

/** One statement as it is, for writes too rare to merge (a write's ledger rows). */
export interface Statement {
  text: string;
  values: unknown[];
}

/** What a {@link Statement} answers. */
export interface StatementResult {
  rowCount: number | null;
  rows: unknown[];
}

/** Runs each {@link Statement} on its own, in the flush's transaction. */
export const statementKind: WriteKind<Statement, StatementResult> = {
  name: 'statement',
  order: 100,
  perRow: true,
  async run(db, rows) {
    const results: StatementResult[] = [];
    for (const r of rows) results.push(await db.query(r.text, r.values));
    return results;
  },
};

/**
 * Group commit: writes of concurrent turns go to SQL together, one transaction per
 * flush, and each caller's promise settles only once its rows are committed (or
 * their statement failed). Nothing waits for a timer: a flush starts on the next
 * turn of the event loop (setImmediate), after every write the current work queued,
 * and while one flush runs the next gathers.
 */
export interface WriteBatcher {
  /** Queues one row of `kind`; resolves once the transaction holding it committed. */
  write<Row, Result>(kind: WriteKind<Row, Result>, row: Row): Promise<Result>;
  /** Resolves when everything queued so far is settled. */
  drain(): Promise<void>;
}

/** Options of {@link createWriteBatcher}. */
export interface WriteBatcherOptions {
  /** Rows per transaction at most; default 500. */
  maxRows?: number;
}

interface Entry {
  kind: WriteKind<unknown, unknown>;
  row: unknown;
  resolve(result: unknown): void;
  reject(error: unknown): void;
}

// A statement the server refused (constraint, type) aborted the transaction and nothing
// in it was applied, so its rows can be run again one by one to find the culprit. A
// lost connection or a failed COMMIT leaves the outcome unknown: those fail every row.
const refusedByServer = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length === 5 && !/^(08|57|53|58|XX)/.test(code);
};

class StatementError extends Error {
  readonly original: unknown;
  constructor(original: unknown) {
    super('statement failed', { cause: original });
    this.original = original;
  }
}

/** Creates a {@link WriteBatcher} over `pool`. */
export function createWriteBatcher(pool: Pool, options: WriteBatcherOptions = {}): WriteBatcher {
  const maxRows = options.maxRows ?? 500;
  let queue: Entry[] = [];
  let scheduled = false;
  let flushing: Promise<void> | undefined;

  // Each kind's rows in one statement, kinds in their order.
  async function runKinds(db: Queryable, entries: Entry[]) {
    const byKind = new Map<WriteKind<unknown, unknown>, Entry[]>();
    for (const e of entries) {
      const rows = byKind.get(e.kind);
      if (rows) rows.push(e);
      else byKind.set(e.kind, [e]);
    }
    const kinds = [...byKind.keys()].sort((a, b) => a.order - b.order);
    const results = new Map<Entry, unknown>();
    for (const kind of kinds) {
      const rows = byKind.get(kind) ?? [];
      let answers: unknown[];
      try {
        answers = await kind.run(
          db,
          rows.map((e) => e.row),
        );
      } catch (error) {
        throw new StatementError(error);
      }
      rows.forEach((e, i) => {
        results.set(e, answers[i]);
      });
    }
    return results;
  }

  async function inTransaction(entries: Entry[]) {
    // One kind is one statement: autocommit is its transaction.
    const kinds = new Set(entries.map((e) => e.kind));
    const only = kinds.size === 1 ? entries[0]?.kind : undefined;
    if (only && (!only.perRow || entries.length === 1)) return runKinds(pool, entries);
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const results = await runKinds(client, entries);
      await client.query('COMMIT');
      return results;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken || undefined);
    }
  }

  async function flushOnce(entries: Entry[]) {
    try {
      const results = await inTransaction(entries);
      for (const e of entries) e.resolve(results.get(e));
    } catch (error) {
      const original = error instanceof StatementError ? error.original : error;
      if (error instanceof StatementError && refusedByServer(original) && entries.length > 1) {
        // Nothing was applied: each row alone, in its own transaction, as it would have run
        // unbatched — one after the other, kinds in their order and rows in the order they were
        // written (a conversation before its messages, a conversation's messages in turn).
        const ordered = [...entries].sort((a, b) => a.kind.order - b.kind.order);
        for (const e of ordered) {
          await e.kind.run(pool, [e.row]).then(
            (answers) => e.resolve(answers[0]),
            (failure: unknown) => e.reject(failure),
          );
        }
        return;
      }
      for (const e of entries) e.reject(original);
    }
  }

  async function flushAll() {
    while (queue.length) {
      const entries = queue.slice(0, maxRows);
      queue = queue.slice(entries.length);
      await flushOnce(entries);
    }
  }

  function schedule() {
    if (scheduled || flushing) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      flushing = flushAll().finally(() => {
        flushing = undefined;
        // Written while the last flush was finishing.
        if (queue.length) schedule();
      });
    });
  }

  return {
    write<Row, Result>(kind: WriteKind<Row, Result>, row: Row) {
      return new Promise<Result>((resolve, reject) => {
        queue.push({
          kind: kind as WriteKind<unknown, unknown>,
          row,
          resolve: resolve as (r: unknown) => void,
          reject,
        });
        schedule();
      });
    },
    async drain() {
      while (queue.length || flushing || scheduled) {
        await (flushing ?? new Promise<void>((resolve) => setImmediate(resolve)));
      }
    },
  };
}

const shared = new WeakMap<object, WriteBatcher>();

/**
 * The batcher every store of one pool shares, so a turn's messages, ledger rows and
 * usage row, and those of every other turn in flight, commit together.
 */
export function sharedWriteBatcher(pool: Pool): WriteBatcher {
  let batcher = shared.get(pool);
  if (!batcher) {
    batcher = createWriteBatcher(pool);
    shared.set(pool, batcher);
  }
  return batcher;
}
