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

describe('prepared statements (real Postgres)', () => {
  let testDb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    // Statements one after the other reuse the one idle connection: each meets the statements
    // prepared before it. A second is opened only while the last test holds the first.
    db = await openDatabase({ url: testDb.url, maxConnections: 2 });
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });
  const prepared = async () =>
    (
      await db.pool.query<{ name: string; statement: string }>(
        'SELECT name, statement FROM pg_prepared_statements ORDER BY prepare_time',
      )
    ).rows;

  test('a statement with values is prepared once per connection; one without stays unnamed', async () => {
    const text = 'SELECT $1::int + 1 AS n';
    for (const value of [1, 2, 3]) {
      expect((await db.pool.query<{ n: number }>(text, [value])).rows[0]?.n).toBe(value + 1);
    }
    // The config form is named as well, and a caller's own name is kept.
    expect((await db.pool.query({ text, values: [9] })).rows[0]?.n).toBe(10);
    await db.pool.query({ name: 'mine', text: 'SELECT $1::text AS s', values: ['x'] });
    await db.pool.query('SELECT 1 AS one');
    const rows = await prepared();
    expect(rows.filter((r) => r.statement === text)).toEqual([
      { name: expect.stringMatching(/^toolmesh_\d+$/), statement: text },
    ]);
    expect(rows.some((r) => r.name === 'mine')).toBe(true);
    expect(rows.some((r) => r.statement.includes('SELECT 1 AS one'))).toBe(false);
  });

  test('preparedStatements: false names nothing (a pooler in transaction mode that cannot keep them)', async () => {
    const unprepared = await openDatabase({ url: testDb.url, maxConnections: 1, preparedStatements: false });
    try {
      for (const value of [1, 2]) {
        expect((await unprepared.pool.query('SELECT $1::int AS n', [value])).rows[0]?.n).toBe(value);
      }
      const { rows } = await unprepared.pool.query('SELECT count(*)::int AS n FROM pg_prepared_statements');
      expect(rows[0]?.n).toBe(0);
    } finally {
      await unprepared.close();
    }
  });

  test('a statement whose result columns changed under it fails once, then runs unnamed on that connection', async () => {
    await db.pool.query('CREATE TABLE widths (a int)');
    await db.pool.query('INSERT INTO widths VALUES (1)');
    const text = 'SELECT * FROM widths WHERE a = $1';
    // A connection held across the failure (pool.query would discard it), as a transaction holds one.
    const client = await db.pool.connect();
    try {
      expect((await client.query(text, [1])).rows).toEqual([{ a: 1 }]);
      // A migration adds a column that the prepared `SELECT *` would now return.
      await db.pool.query('ALTER TABLE widths ADD COLUMN b int');
      await expect(client.query(text, [1])).rejects.toMatchObject({
        code: '0A000',
        message: 'cached plan must not change result type',
      });
      expect((await client.query(text, [1])).rows).toEqual([{ a: 1, b: null }]);
      expect((await client.query(text, [1])).rows).toEqual([{ a: 1, b: null }]);
    } finally {
      client.release();
    }
  });
});
