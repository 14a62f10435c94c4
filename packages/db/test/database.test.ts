import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import {
  type Database,
  type Migration,
  migrate,
  openDatabase,
  queryWithDeadline,
  withTransaction,
} from '../src/index.ts';

const migrations: Migration[] = [
  {
    version: 1,
    description: 'counters',
    sql: 'CREATE TABLE t.counters (id text PRIMARY KEY, n integer NOT NULL)',
  },
  { version: 2, description: 'seed', sql: "INSERT INTO t.counters VALUES ('a', 0)" },
];

async function exercise(db: Database) {
  expect(await migrate(db.pool, { schema: 't', migrations })).toEqual([1, 2]);
  // Idempotent: a second start (or a second replica) applies nothing.
  expect(await migrate(db.pool, { schema: 't', migrations })).toEqual([]);
  // Concurrent read-modify-write transactions serialize on the row lock: no lost update.
  await Promise.all(
    Array.from({ length: 20 }, () =>
      withTransaction(db.pool, async (c) => {
        const { rows } = await c.query<{ n: number }>("SELECT n FROM t.counters WHERE id = 'a' FOR UPDATE");
        await c.query("UPDATE t.counters SET n = $1 WHERE id = 'a'", [(rows[0]?.n ?? 0) + 1]);
      }),
    ),
  );
  const { rows } = await db.pool.query<{ n: number }>("SELECT n FROM t.counters WHERE id = 'a'");
  expect(rows[0]?.n).toBe(20);
  await expect(
    withTransaction(db.pool, async (c) => {
      await c.query("UPDATE t.counters SET n = 99 WHERE id = 'a'");
      throw new Error('abort');
    }),
  ).rejects.toThrow('abort');
  expect((await db.pool.query("SELECT n FROM t.counters WHERE id = 'a'")).rows[0].n).toBe(20);
}

describe('on the real Postgres', () => {
  let testDb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ url: testDb.url });
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });
  test('migrations, transactions and concurrency', () => exercise(db));
});

describe('on embedded PGlite', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openDatabase();
  });
  afterAll(() => db?.close());
  test('the same code path works', async () => {
    expect(db.embedded).toBe(true);
    await exercise(db);
  });
});

describe('queryWithDeadline on a pool that is not a read pool (real Postgres)', () => {
  let testDb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ url: testDb.url });
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });
  test('the statement runs in a read-only transaction that Postgres cancels at the deadline', async () => {
    // 57014 is Postgres cancelling the statement itself (statement_timeout), not a client giving up.
    await expect(queryWithDeadline(db.pool, 100, 'SELECT pg_sleep(30)')).rejects.toMatchObject({
      code: '57014',
      message: expect.stringContaining('statement timeout'),
    });
    // The deadline became the statement's own timeout.
    const seen = await queryWithDeadline<{ statement_timeout: string }>(
      db.pool,
      1_000,
      'SHOW statement_timeout',
    );
    expect(seen.rows[0]?.statement_timeout).toBe('1s');
    const ok = await queryWithDeadline<{ n: number }>(db.pool, 1_000, 'SELECT $1::int AS n', [7]);
    expect(ok.rows[0]?.n).toBe(7);
    // Read-only here too.
    await expect(queryWithDeadline(db.pool, 1_000, 'CREATE TABLE nope (x int)')).rejects.toMatchObject({
      code: '25006',
    });
    // The connection went back to the pool clean: no transaction, default timeout.
    const { rows } = await db.pool.query('SHOW statement_timeout');
    expect(rows[0].statement_timeout).toBe('30s');
  });
});
