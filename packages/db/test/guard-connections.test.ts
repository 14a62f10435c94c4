import net from 'node:net';
import { createManualClock } from '@toolmesh/clock';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import { DatabaseUnavailableError, openDatabase } from '../src/index.ts';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

/**
 * A TCP proxy in front of Postgres that counts the connections it accepts. Down, it
 * accepts and closes each one at once, so every connection attempt is still seen.
 */
async function startCountingProxy(port: number) {
  let up = true;
  let accepted = 0;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    accepted++;
    track(client);
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = net.connect(port, '127.0.0.1');
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    accepted: () => accepted,
    /** An outage: open connections are cut, new ones closed on arrival. */
    down() {
      up = false;
      for (const socket of sockets) socket.destroy();
    },
    up() {
      up = true;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Polls `check` until it holds; the deadline is generous, it only stops a hung test. */
async function until(check: () => boolean, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('Postgres down: the breaker refuses without connecting once open; after the pause one trial lets queries flow', async () => {
  const proxy = await startCountingProxy(Number(new URL(db.url).port || 5432));
  const url = new URL(db.url);
  url.host = proxy.address;
  const clock = createManualClock();
  const database = await openDatabase({ url: url.toString(), clock });
  const { pool } = database;
  try {
    expect((await pool.query('SELECT 1 AS one')).rows[0]).toEqual({ one: 1 });
    expect(proxy.accepted()).toBe(1);

    proxy.down();
    // The pool notices its idle connection died and drops it.
    await until(() => pool.totalCount === 0);

    // First query: an attempt, the retry pause on the clock, a second attempt; both fail.
    const first = pool.query('SELECT 1').catch((e: unknown) => e);
    await until(() => clock.pending() === 1);
    await clock.advance(50);
    const firstError = await first;
    expect(firstError).not.toBeInstanceOf(DatabaseUnavailableError);
    expect(proxy.accepted()).toBe(3);
    // Second query: the third failure in a row opens the breaker, so no retry is attempted.
    const second = await pool.query('SELECT 1').catch((e: unknown) => e);
    expect(second).toBeInstanceOf(DatabaseUnavailableError);
    expect(proxy.accepted()).toBe(4);

    // Open: refused without a connection attempt, with a connection-class SQLSTATE every error mapper knows.
    for (let i = 0; i < 5; i++) {
      const refused = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(DatabaseUnavailableError);
      expect((refused as DatabaseUnavailableError).code).toBe('08006');
    }
    await clock.advance(1_999);
    await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(proxy.accepted()).toBe(4);
    expect(clock.pending()).toBe(0);

    proxy.up();
    await clock.advance(1);
    // Half open: one trial connection goes out, succeeds, and closes the breaker.
    expect((await pool.query('SELECT 2 AS two')).rows[0]).toEqual({ two: 2 });
    expect(proxy.accepted()).toBe(5);
    const answers = await Promise.all([1, 2, 3].map((n) => pool.query('SELECT $1::int AS n', [n])));
    expect(answers.map((r) => r.rows[0]?.n)).toEqual([1, 2, 3]);
    // The promise form of connect keeps working too.
    const client = await pool.connect();
    client.release();
  } finally {
    await database.close();
    await proxy.close();
  }
}, 30_000);

test('a failed trial opens the breaker again for another pause', async () => {
  const proxy = await startCountingProxy(Number(new URL(db.url).port || 5432));
  const url = new URL(db.url);
  url.host = proxy.address;
  const clock = createManualClock();
  const database = await openDatabase({ url: url.toString(), clock });
  const { pool } = database;
  try {
    proxy.down();
    const first = pool.query('SELECT 1').catch((e: unknown) => e);
    await until(() => clock.pending() === 1);
    await clock.advance(50);
    await first;
    await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(proxy.accepted()).toBe(3);

    await clock.advance(2_000);
    // The trial still finds the database down: one attempt, no retry, open again.
    await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(proxy.accepted()).toBe(4);
    await clock.advance(1_999);
    await expect(pool.query('SELECT 1')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(proxy.accepted()).toBe(4);

    proxy.up();
    await clock.advance(1);
    expect((await pool.query('SELECT 3 AS three')).rows[0]).toEqual({ three: 3 });
    expect(proxy.accepted()).toBe(5);
  } finally {
    await database.close();
    await proxy.close();
  }
}, 30_000);
