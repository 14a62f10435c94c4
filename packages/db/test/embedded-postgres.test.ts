import net from 'node:net';
import pg from 'pg';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/index.ts';

function poolOn(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {});
  return pool;
}

/** Runs `fn` and fails when it takes longer than `ms`. */
async function within<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A frontend message: type byte, int32 length, body. */
function frontendMessage(type: string, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function startupMessage(): Buffer {
  const body = Buffer.concat([
    Buffer.from([0, 3, 0, 0]),
    Buffer.from('user\0postgres\0database\0postgres\0\0'),
  ]);
  const length = Buffer.alloc(4);
  length.writeInt32BE(body.length + 4);
  return Buffer.concat([length, body]);
}

/** The first column of every DataRow in a backend byte stream. */
function dataRowValues(received: Buffer): string[] {
  const values: string[] = [];
  for (let i = 0; i + 5 <= received.length; ) {
    const length = received.readInt32BE(i + 1);
    if (received[i] === 0x44) {
      const size = received.readInt32BE(i + 7);
      values.push(received.subarray(i + 11, i + 11 + size).toString());
    }
    i += 1 + length;
  }
  return values;
}

/** A raw wire client: connects, logs in, and resolves `until` once `marker` has arrived. */
async function rawClient(url: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => {});
  let received = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    for (const w of waiters.splice(0)) w();
  });
  const readyCount = () => {
    // Count ReadyForQuery messages ('Z', length 5).
    let n = 0;
    for (let i = 0; i + 5 <= received.length; ) {
      const length = received.readInt32BE(i + 1);
      if (received[i] === 0x5a) n++;
      i += 1 + length;
    }
    return n;
  };
  const waitReady = async (count: number) => {
    while (readyCount() < count) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, waitReady, received: () => received };
}

describe('embedded Postgres under concurrency', () => {
  let server: EmbeddedPostgres;
  const pools: pg.Pool[] = [];
  beforeAll(async () => {
    server = await startEmbeddedPostgres();
    for (let i = 0; i < 3; i++) pools.push(poolOn(server.url));
    await pools[0]?.query('CREATE TABLE counters (id text PRIMARY KEY, n integer NOT NULL)');
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.close();
  });

  test('concurrent parameterized queries each get their own answer', async () => {
    await pools[0]?.query("INSERT INTO counters VALUES ('rmw', 0)");
    const queries = Array.from({ length: 600 }, (_, i) => {
      const pool = pools[i % pools.length] as pg.Pool;
      return pool
        .query<{ n: number }>('SELECT $1::int AS n', [i])
        .then((r) => (r.rows.length === 1 && r.rows[0]?.n === i ? 'ok' : 'wrong answer'));
    });
    // Read-modify-write transactions mixed in: they must not be interleaved with the queries above.
    const transactions = Array.from({ length: 30 }, (_, i) =>
      (async () => {
        const client = await (pools[i % pools.length] as pg.Pool).connect();
        try {
          await client.query('BEGIN');
          const { rows } = await client.query<{ n: number }>(
            'SELECT n FROM counters WHERE id = $1 FOR UPDATE',
            ['rmw'],
          );
          await client.query('UPDATE counters SET n = $1 WHERE id = $2', [(rows[0]?.n ?? 0) + 1, 'rmw']);
          await client.query('COMMIT');
          return 'ok';
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        } finally {
          client.release();
        }
      })(),
    );
    const settled = await Promise.allSettled([...queries, ...transactions]);
    const failures = settled.filter((s) => s.status === 'rejected' || s.value !== 'ok');
    const reasons = new Set(
      failures.map((s) => (s.status === 'rejected' ? String((s.reason as Error).message) : s.value)),
    );
    expect({ failed: failures.length, of: settled.length, reasons: [...reasons].slice(0, 3) }).toEqual({
      failed: 0,
      of: 630,
      reasons: [],
    });
    const { rows } = await (pools[1] as pg.Pool).query("SELECT n FROM counters WHERE id = 'rmw'");
    expect(rows[0]?.n).toBe(30);
  });

  test('transactions with FOR UPDATE from three pools lose no update', async () => {
    await pools[0]?.query("INSERT INTO counters VALUES ('a', 0)");
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const client = await (pools[i % pools.length] as pg.Pool).connect();
        try {
          await client.query('BEGIN');
          const { rows } = await client.query<{ n: number }>(
            "SELECT n FROM counters WHERE id = 'a' FOR UPDATE",
          );
          await client.query("UPDATE counters SET n = $1 WHERE id = 'a'", [(rows[0]?.n ?? 0) + 1]);
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      }),
    );
    const { rows } = await (pools[2] as pg.Pool).query("SELECT n FROM counters WHERE id = 'a'");
    expect(rows[0]?.n).toBe(100);
  });

  test('a client leaving in the middle of a transaction does not block the others', async () => {
    const client = new pg.Client({ connectionString: server.url });
    client.on('error', () => {});
    await client.connect();
    await client.query('BEGIN');
    await client.query("INSERT INTO counters VALUES ('left', 1)");
    // Others queue behind the open transaction...
    const others = Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (pools[i % pools.length] as pg.Pool).query('SELECT $1::int AS n', [i]),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    // ...until its owner vanishes without COMMIT: its work is rolled back and the others proceed.
    (client as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
    const results = await within(1_000, () => others);
    expect(results.map((r) => r.rows[0]?.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const { rows } = await (pools[0] as pg.Pool).query(
      "SELECT count(*)::int AS c FROM counters WHERE id = 'left'",
    );
    expect(rows[0]?.c).toBe(0);
  });

  test('a client leaving half way through an extended-protocol exchange does not block the others', async () => {
    const raw = await rawClient(server.url);
    raw.socket.write(startupMessage());
    await raw.waitReady(1);
    // Parse + Flush: the unnamed statement is this client's until it sends Sync.
    const parse = Buffer.concat([Buffer.from('\0SELECT 42\0'), Buffer.from([0, 0])]);
    raw.socket.write(Buffer.concat([frontendMessage('P', parse), frontendMessage('H')]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.socket.destroy();
    const { rows } = await within(1_000, () => (pools[0] as pg.Pool).query('SELECT $1::text AS s', ['fine']));
    expect(rows[0]?.s).toBe('fine');
  });

  test('garbage on one connection leaves the others alone', async () => {
    const raw = await rawClient(server.url);
    raw.socket.write(startupMessage());
    await raw.waitReady(1);
    // A message claiming a negative length, then bytes that are no protocol at all.
    raw.socket.write(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    await new Promise<void>((resolve) => raw.socket.once('close', () => resolve()));
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (pools[i % pools.length] as pg.Pool).query('SELECT $1::int AS n', [i]),
      ),
    );
    expect(results.map((r) => r.rows[0]?.n)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  test('a simple query pipelined after an extended one keeps its order', async () => {
    const raw = await rawClient(server.url);
    raw.socket.write(startupMessage());
    await raw.waitReady(1);
    const parse = frontendMessage('P', Buffer.from('\0SELECT 1\0\0\0'));
    const bind = frontendMessage('B', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));
    const execute = frontendMessage('E', Buffer.from([0, 0, 0, 0, 0]));
    const query = frontendMessage('Q', Buffer.from('SELECT 2\0'));
    // Sent in one write: two units, run in order.
    raw.socket.write(Buffer.concat([parse, bind, execute, frontendMessage('S'), query]));
    await within(1_000, () => raw.waitReady(3));
    expect(dataRowValues(raw.received())).toEqual(['1', '2']);
    raw.socket.end(frontendMessage('X'));
  });
});

describe('embedded Postgres limits and shutdown', () => {
  test('connections beyond maxConnections are refused; close() ends the rest', async () => {
    const server = await startEmbeddedPostgres({ maxConnections: 2 });
    const clients = [0, 1].map(() => new pg.Client({ connectionString: server.url }));
    for (const c of clients) {
      c.on('error', () => {});
      await c.connect();
    }
    const third = new pg.Client({ connectionString: server.url });
    third.on('error', () => {});
    await expect(third.connect()).rejects.toThrow();
    // A slot freed is a slot usable again.
    await clients[0]?.end();
    const fourth = new pg.Client({ connectionString: server.url });
    fourth.on('error', () => {});
    await within(1_000, () => fourth.connect());
    expect((await fourth.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    const ended = new Promise<void>((resolve) => fourth.once('end', () => resolve()));
    await within(2_000, () => server.close());
    await within(1_000, () => ended);
    await expect(new pg.Client({ connectionString: server.url }).connect()).rejects.toThrow();
  });
});
