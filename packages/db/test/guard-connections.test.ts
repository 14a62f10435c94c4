import { createTestDatabase, startDelayProxy, type TestDatabase } from '@toolmesh/testkit';
import { DatabaseUnavailableError, openDatabase } from '../src/index.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

test('Postgres down: callers fail fast once the breaker opens; back up: queries flow again', async () => {
  const proxy = await startDelayProxy('127.0.0.1:5432');
  const url = new URL(db.url);
  url.host = proxy.address;
  const database = await openDatabase({ url: url.toString() });
  try {
    expect((await database.pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    await proxy.cut();
    // Connections in the pool die with the outage; the first attempts fail on their own.
    const failures: unknown[] = [];
    for (let i = 0; i < 5; i++) failures.push(await database.pool.query('SELECT 1').catch((e: unknown) => e));
    expect(failures.every((e) => typeof (e as { message?: unknown }).message === 'string')).toBe(true);
    expect(failures.at(-1)).toBeInstanceOf(DatabaseUnavailableError);
    // Open: refused at once, with a connection-class SQLSTATE every error mapper knows.
    const started = performance.now();
    const fast = await database.pool.query('SELECT 1').catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(50);
    expect(fast).toBeInstanceOf(DatabaseUnavailableError);
    expect((fast as DatabaseUnavailableError).code).toBe('08006');

    await proxy.restore();
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await database.pool.query('SELECT 2 AS two')).rows[0]).toEqual({ two: 2 });
    // The promise form of connect keeps working too.
    const client = await database.pool.connect();
    client.release();
  } finally {
    await database.close();
    await proxy.close();
  }
}, 30_000);
