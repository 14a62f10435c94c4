import net from 'node:net';
import { createManualClock } from '@toolmesh/clock';
import { createTestDatabase, type TestDatabase, waitFor } from '@toolmesh/testkit';
import pg from 'pg';
import { type Database, openDatabase, QueryDeadlineError, queryWithDeadline } from '../src/index.ts';

/**
 * A TCP proxy in front of Postgres that counts the frontend messages it forwards, by
 * type: what a read costs on the wire, counted rather than timed. A Query ('Q') or a
 * Sync ('S') ends a round trip; a Query or an Execute ('E') runs a statement.
 */
async function startCountingProxy(target: { host: string; port: number }) {
  const counts = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let started = false;
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        // Untyped until the StartupMessage (int32 length, int32 code); typed after it.
        const head = started ? 5 : 8;
        if (pending.length < head) break;
        const length = started ? 1 + pending.readInt32BE(1) : pending.readInt32BE(0);
        if (pending.length < length) break;
        if (started) {
          const type = String.fromCharCode(pending[0] as number);
          counts.set(type, (counts.get(type) ?? 0) + 1);
        } else if (pending.readInt32BE(4) === 196608) started = true;
        pending = pending.subarray(length);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    count: (type: string) => counts.get(type) ?? 0,
    reset: () => counts.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('the read pool on the real Postgres', () => {
  let testDb: TestDatabase;
  let admin: pg.Client;
  const opened: Database[] = [];
  const open = async (options: Parameters<typeof openDatabase>[0] = {}) => {
    const db = await openDatabase({ url: testDb.url, ...options });
    opened.push(db);
    return db;
  };
  beforeAll(async () => {
    testDb = await createTestDatabase();
    admin = new pg.Client({ connectionString: testDb.url });
    await admin.connect();
    await admin.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
    await admin.query("INSERT INTO items VALUES (1, 'one'), (2, 'two')");
  });
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await admin?.end();
    await testDb?.drop();
  });

  test('a read is one statement in one round trip (three on a pool that is not a read pool)', async () => {
    const proxy = await startCountingProxy({ host: '127.0.0.1', port: 5432 });
    try {
      const url = new URL(testDb.url);
      url.port = String(proxy.port);
      const db = await open({ url: url.toString() });
      // Connecting sends its own messages; count from a warm connection on.
      await queryWithDeadline(db.readPool, 5_000, 'SELECT 1');
      await queryWithDeadline(db.pool, 5_000, 'SELECT 1');
      proxy.reset();
      for (let i = 0; i < 5; i++) {
        const { rows } = await queryWithDeadline<{ name: string }>(
          db.readPool,
          5_000,
          'SELECT name FROM items WHERE id = $1',
          [1],
        );
        expect(rows).toEqual([{ name: 'one' }]);
      }
      await queryWithDeadline(db.readPool, 5_000, 'SELECT count(*) FROM items');
      const roundTrips = () => proxy.count('Q') + proxy.count('S');
      const statements = () => proxy.count('Q') + proxy.count('E');
      expect({ roundTrips: roundTrips(), statements: statements() }).toEqual({
        roundTrips: 6,
        statements: 6,
      });

      // Any other pool still gets a read-only transaction around the statement.
      proxy.reset();
      await queryWithDeadline(db.pool, 5_000, 'SELECT name FROM items WHERE id = $1', [1]);
      expect(roundTrips()).toBe(3);
    } finally {
      await proxy.close();
    }
  });

  test('a write through the read pool fails with SQLSTATE 25006 and changes nothing', async () => {
    const db = await open();
    await expect(
      queryWithDeadline(db.readPool, 5_000, "INSERT INTO items VALUES (3, 'three')"),
    ).rejects.toMatchObject({ code: '25006' });
    await expect(db.readPool.query("UPDATE items SET name = 'x' WHERE id = 1")).rejects.toMatchObject({
      code: '25006',
    });
    await expect(
      queryWithDeadline(
        db.readPool,
        5_000,
        'WITH d AS (DELETE FROM items RETURNING id) SELECT count(*) FROM d',
      ),
    ).rejects.toMatchObject({ code: '25006' });
    expect((await admin.query('SELECT id, name FROM items ORDER BY id')).rows).toEqual([
      { id: 1, name: 'one' },
      { id: 2, name: 'two' },
    ]);
    // Writes keep going through the main pool.
    await db.pool.query("INSERT INTO items VALUES (3, 'three')");
    await db.pool.query('DELETE FROM items WHERE id = 3');
  });

  test("a URL's own options are kept next to the read-only one", async () => {
    const url = new URL(testDb.url);
    url.searchParams.set('options', '-c search_path=pg_catalog');
    const db = await open({ url: url.toString() });
    const { rows } = await db.readPool.query(
      "SELECT current_setting('search_path') AS path, current_setting('default_transaction_read_only') AS ro",
    );
    expect(rows).toEqual([{ path: 'pg_catalog', ro: 'on' }]);
    // The statement_timeout ceiling holds on the read pool as on the main pool.
    expect((await db.readPool.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('30s');
  });

  test('at the deadline Postgres cancels the statement, the caller hears 57014, the connection is not reused', async () => {
    const clock = createManualClock();
    const db = await open({ maxReadConnections: 1, applicationName: 'read-pool-cancel' });
    const read = queryWithDeadline(db.readPool, 1_000, 'SELECT pg_sleep(30)', [], { clock });
    read.catch(() => {});
    const sleeping = async () =>
      (
        await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'read-pool-cancel'
              AND state = 'active' AND query = 'SELECT pg_sleep(30)'`,
        )
      ).rows[0]?.pid;
    const pid = await waitFor(sleeping, { what: 'the statement to run in Postgres' });

    await clock.advance(1_000);
    await expect(read).rejects.toBeInstanceOf(QueryDeadlineError);
    await expect(read).rejects.toMatchObject({ code: '57014' });
    // Postgres itself stopped the statement: its backend runs it no more (and is gone).
    await waitFor(async () => (await sleeping()) === undefined, {
      what: 'the statement to be cancelled in Postgres',
      // Well before pg_sleep(30) would end by itself.
      timeoutMs: 10_000,
    });

    const next = await queryWithDeadline<{ pid: number }>(
      db.readPool,
      5_000,
      'SELECT pg_backend_pid() AS pid',
      [],
      {
        clock,
      },
    );
    expect(next.rows[0]?.pid).toEqual(expect.any(Number));
    expect(next.rows[0]?.pid).not.toBe(pid);
    await waitFor(
      async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0,
      { what: 'the cancelled backend to end' },
    );
  });

  test('a deadline already past runs nothing', async () => {
    const db = await open();
    await expect(queryWithDeadline(db.readPool, 0, 'SELECT 1')).rejects.toMatchObject({ code: '57014' });
    await expect(queryWithDeadline(db.readPool, -5, 'SELECT 1')).rejects.toBeInstanceOf(QueryDeadlineError);
    expect(db.readPool.totalCount).toBe(0);
  });
});

describe('the read pool on embedded PGlite', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openDatabase();
    await db.pool.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
    await db.pool.query("INSERT INTO items VALUES (1, 'one')");
  });
  afterAll(() => db?.close());

  test('reads work, writes fail with 25006, and the main pool still writes in between', async () => {
    for (let i = 0; i < 3; i++) {
      const { rows } = await queryWithDeadline(
        db.readPool,
        5_000,
        'SELECT name FROM items WHERE id = $1',
        [1],
      );
      expect(rows).toEqual([{ name: 'one' }]);
      await expect(
        queryWithDeadline(db.readPool, 5_000, "INSERT INTO items VALUES (9, 'nine')"),
      ).rejects.toMatchObject({ code: '25006' });
      await db.pool.query('INSERT INTO items VALUES ($1, $2)', [10 + i, 'x']);
      await db.pool.query('DELETE FROM items WHERE id = $1', [10 + i]);
    }
    // A transaction on the read pool is read-only too.
    const client = await db.readPool.connect();
    try {
      await client.query('BEGIN');
      await expect(client.query("INSERT INTO items VALUES (9, 'nine')")).rejects.toMatchObject({
        code: '25006',
      });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect((await db.pool.query('SELECT count(*)::int AS n FROM items')).rows[0].n).toBe(1);
  });

  test('the caller hears the deadline on time though PGlite ignores cancel requests', async () => {
    const clock = createManualClock();
    // A transaction holds the one PGlite session: the read cannot run before it ends.
    const writer = await db.pool.connect();
    try {
      await writer.query('BEGIN');
      const read = queryWithDeadline(db.readPool, 1_000, 'SELECT name FROM items', [], { clock });
      read.catch(() => {});
      await clock.advance(1_000);
      await expect(read).rejects.toMatchObject({ code: '57014' });
      await writer.query('COMMIT');
    } finally {
      writer.release();
    }
    const { rows } = await queryWithDeadline(db.readPool, 5_000, 'SELECT name FROM items');
    expect(rows).toEqual([{ name: 'one' }]);
  });

  test('default_transaction_read_only in the startup options is honoured per connection', async () => {
    const url = new URL(
      (db.readPool as unknown as { options: { connectionString: string } }).options.connectionString,
    );
    url.searchParams.delete('options');
    const connect = async (options?: string) => {
      const client = new pg.Client({ connectionString: url.toString(), ...(options ? { options } : {}) });
      client.on('error', () => {});
      await client.connect();
      return client;
    };
    const longForm = await connect('--default-transaction-read-only=yes');
    const plain = await connect();
    try {
      await expect(longForm.query('CREATE TABLE t1 (x int)')).rejects.toMatchObject({ code: '25006' });
      await plain.query('CREATE TABLE t2 (x int)');
      await expect(longForm.query('DROP TABLE t2')).rejects.toMatchObject({ code: '25006' });
      await plain.query('DROP TABLE t2');
    } finally {
      await longForm.end();
      await plain.end();
    }
    // Postgres refuses a value that is not a Boolean at startup; so does the embedded server.
    await expect(connect('-c default_transaction_read_only=perhaps')).rejects.toMatchObject({
      code: '22023',
    });
    const off = await connect('-c default_transaction_read_only=off');
    try {
      await off.query('CREATE TABLE t3 (x int)');
      await off.query('DROP TABLE t3');
    } finally {
      await off.end();
    }
  });
});
