import net from 'node:net';
import pg from 'pg';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../src/index.ts';

function poolOn(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5_000 });
  pool.on('error', () => {});
  return pool;
}

function clientOn(url: string): pg.Client {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  return client;
}

/**
 * A generous deadline against a hang (a blocked session never answers): it never fails
 * a slow machine, it only turns a hang into a clear failure before the test timeout.
 */
const hangMs = 20_000;

/** Runs `fn` and fails when it hangs past `ms`. */
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

/** Polls `check` until it holds, up to the hang deadline. */
async function pollUntil(check: () => boolean): Promise<void> {
  const deadline = Date.now() + hangMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 5));
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

/** Backend messages as [type, body] pairs. */
function backendMessages(received: Buffer): Array<[string, Buffer]> {
  const messages: Array<[string, Buffer]> = [];
  for (let i = 0; i + 5 <= received.length; ) {
    const length = received.readInt32BE(i + 1);
    messages.push([String.fromCharCode(received[i] as number), received.subarray(i + 5, i + 1 + length)]);
    i += 1 + length;
  }
  return messages;
}

/** The first column of every DataRow. */
function dataRowValues(received: Buffer): string[] {
  return backendMessages(received)
    .filter(([type]) => type === 'D')
    .map(([, body]) => body.subarray(6, 6 + body.readInt32BE(2)).toString());
}

/** A wire-level client speaking raw bytes, logged in once `login()` resolves. */
async function rawClient(url: string) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  socket.on('error', () => {});
  let received = Buffer.alloc(0);
  let waiters: Array<() => void> = [];
  socket.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('close', () => {
    for (const wake of waiters.splice(0)) wake();
  });
  const until = async (done: () => boolean) => {
    while (!done() && !socket.destroyed) await new Promise<void>((resolve) => waiters.push(resolve));
    waiters = [];
  };
  const readyCount = () => backendMessages(received).filter(([type]) => type === 'Z').length;
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    received: () => received,
    clear: () => {
      received = Buffer.alloc(0);
    },
    waitBytes: (n: number) => within(hangMs, () => until(() => received.length >= n)),
    waitReady: (count: number) => within(hangMs, () => until(() => readyCount() >= count)),
    closed: () => within(hangMs, () => until(() => socket.destroyed)),
    async login() {
      socket.write(startupMessage());
      await this.waitReady(1);
    },
  };
}

describe('embedded Postgres: one PGlite, many pg clients', () => {
  const maxConnections = 40;
  let server: EmbeddedPostgres;
  const pools: pg.Pool[] = [];
  const pool = (i: number) => pools[i % pools.length] as pg.Pool;
  beforeAll(async () => {
    server = await startEmbeddedPostgres({ maxConnections });
    const setup = clientOn(server.url);
    await setup.connect();
    await setup.query('CREATE TABLE counters (id text PRIMARY KEY, n integer NOT NULL)');
    await setup.end();
    // Pools connect lazily: no connection is open before the first test.
    for (let i = 0; i < 3; i++) pools.push(poolOn(server.url));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await server?.close();
  });

  test('connections beyond maxConnections are refused with 53300; a freed slot is usable again', async () => {
    const clients = Array.from({ length: maxConnections }, () => clientOn(server.url));
    await Promise.all(clients.map((c) => c.connect()));
    await expect(clientOn(server.url).connect()).rejects.toMatchObject({ code: '53300' });
    await clients[0]?.end();
    const another = clientOn(server.url);
    await within(hangMs, () => another.connect());
    expect((await another.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);
    await Promise.all([another, ...clients.slice(1)].map((c) => c.end()));
  });

  test('concurrent parameterized queries each get their own answer, with transactions in between', async () => {
    await pool(0).query("INSERT INTO counters VALUES ('rmw', 0)");
    const queries = Array.from({ length: 600 }, (_, i) =>
      within(hangMs, () => pool(i).query<{ n: number }>('SELECT $1::int AS n', [i])).then((r) =>
        r.rows.length === 1 && r.rows[0]?.n === i ? 'ok' : 'wrong answer',
      ),
    );
    const transactions = Array.from({ length: 30 }, (_, i) =>
      within(hangMs, async () => {
        const client = await pool(i).connect();
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
      }),
    );
    const settled = await Promise.allSettled([...queries, ...transactions]);
    const failures = settled.filter((s) => s.status === 'rejected' || s.value !== 'ok');
    const reasons = new Set(
      failures.map((s) => (s.status === 'rejected' ? String(s.reason?.message) : s.value)),
    );
    expect({ failed: failures.length, of: settled.length, reasons: [...reasons] }).toEqual({
      failed: 0,
      of: 630,
      reasons: [],
    });
    const { rows } = await pool(1).query("SELECT n FROM counters WHERE id = 'rmw'");
    expect(rows[0]?.n).toBe(30);
  });

  test('transactions with FOR UPDATE from three pools lose no update', async () => {
    await pool(0).query("INSERT INTO counters VALUES ('a', 0)");
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const client = await pool(i).connect();
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
    const { rows } = await pool(2).query("SELECT n FROM counters WHERE id = 'a'");
    expect(rows[0]?.n).toBe(100);
  });

  test('a client leaving in the middle of a transaction is rolled back and does not block the others', async () => {
    const client = clientOn(server.url);
    await client.connect();
    await client.query('BEGIN');
    await client.query("INSERT INTO counters VALUES ('left', 1)");
    // The others queue behind the open transaction...
    const others = Promise.all(
      Array.from({ length: 20 }, (_, i) => pool(i).query('SELECT $1::int AS n', [i])),
    );
    let answered = false;
    const answer = () => {
      answered = true;
    };
    others.then(answer, answer);
    await pollUntil(() => server.waitingUnits() >= 20);
    expect(answered).toBe(false);
    // ...until its owner vanishes without COMMIT.
    (client as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
    const results = await within(hangMs, () => others);
    expect(results.map((r) => r.rows[0]?.n)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const { rows } = await pool(0).query("SELECT count(*)::int AS c FROM counters WHERE id = 'left'");
    expect(rows[0]?.c).toBe(0);
  });

  test('a client leaving half way through an extended-protocol exchange does not block the others', async () => {
    const raw = await rawClient(server.url);
    await raw.login();
    // Parse + Flush: the unnamed statement stays this client's until it sends Sync.
    raw.socket.write(
      Buffer.concat([frontendMessage('P', Buffer.from('\0SELECT 42\0\0\0')), frontendMessage('H')]),
    );
    await raw.waitBytes(raw.received().length + 5); // ParseComplete
    const other = pool(0).query('SELECT $1::text AS s', ['fine']);
    // Queued behind the unfinished exchange, which owns the session until Sync.
    await pollUntil(() => server.waitingUnits() >= 1);
    raw.socket.destroy();
    const { rows } = await within(hangMs, () => other);
    expect(rows[0]?.s).toBe('fine');
  });

  test('protocol garbage costs only the sender its connection', async () => {
    const garbage = [
      Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]), // negative length
      frontendMessage('z'), // no such message type: Postgres would exit, PGlite would hang
      frontendMessage('S', Buffer.alloc(20_000)), // a Sync far beyond the small-message limit
    ];
    for (const bytes of garbage) {
      const raw = await rawClient(server.url);
      await raw.login();
      raw.socket.write(bytes);
      await raw.closed();
      const fatal = backendMessages(raw.received()).find(([type]) => type === 'E');
      expect(fatal?.[1].toString()).toContain('FATAL');
    }
    const notPostgres = await rawClient(server.url);
    notPostgres.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await notPostgres.closed();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => pool(i).query('SELECT $1::int AS n', [i])),
    );
    expect(results.map((r) => r.rows[0]?.n)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  test('SSLRequest is declined; units pipelined in one write run in order', async () => {
    const raw = await rawClient(server.url);
    raw.socket.write(Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f]));
    await raw.waitBytes(1);
    expect(raw.received().toString()).toBe('N');
    raw.clear();
    raw.socket.write(startupMessage());
    await raw.waitReady(1);
    const parse = frontendMessage('P', Buffer.from('\0SELECT 1\0\0\0'));
    const bind = frontendMessage('B', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));
    const execute = frontendMessage('E', Buffer.from([0, 0, 0, 0, 0]));
    const query = frontendMessage('Q', Buffer.from('SELECT 2\0'));
    raw.socket.write(
      Buffer.concat([parse, bind, execute, frontendMessage('S'), query, frontendMessage('X')]),
    );
    await raw.waitReady(3);
    expect(dataRowValues(raw.received())).toEqual(['1', '2']);
    await raw.closed(); // Terminate closes the connection once its earlier units have run
  });

  test('COPY FROM STDIN is refused with 0A000 and the database stays usable', async () => {
    await expect(pool(0).query('COPY counters FROM STDIN')).rejects.toMatchObject({ code: '0A000' });
    await expect(
      // queryMode is missing from @types/pg; pg itself knows it.
      pool(1).query({
        text: '/* c */ copy counters (id, n) from stdin',
        queryMode: 'extended',
      } as pg.QueryConfig),
    ).rejects.toMatchObject({ code: '0A000' });
    // Not a COPY FROM STDIN: runs as it is.
    const { rows } = await pool(2).query("SELECT 'copy x from stdin' AS s");
    expect(rows[0]?.s).toBe('copy x from stdin');
  });

  test("what would drop every connection's prepared statements is refused with 0A000", async () => {
    const client = clientOn(server.url);
    await client.connect();
    const statement = { name: 'kept', text: 'SELECT $1::int AS n' };
    expect((await client.query({ ...statement, values: [1] })).rows[0]?.n).toBe(1);
    // From another connection (a pooled one), in the simple and the extended protocol.
    for (const sql of ['DISCARD ALL', '/* reset */ deallocate prepare all', 'SELECT 1; Discard All']) {
      await expect(pool(0).query(sql)).rejects.toMatchObject({ code: '0A000' });
    }
    await expect(
      pool(1).query({ text: 'DEALLOCATE ALL', queryMode: 'extended' } as pg.QueryConfig),
    ).rejects.toMatchObject({ code: '0A000' });
    // Plans may be dropped: the statement is planned again.
    await pool(2).query('DISCARD PLANS');
    // The statement this connection prepared is still there.
    expect((await client.query({ ...statement, values: [2] })).rows[0]?.n).toBe(2);
    await client.end();
  });

  test("statements named in the extended protocol are each connection's own, and closed when it goes", async () => {
    const [first, second] = [clientOn(server.url), clientOn(server.url)];
    await Promise.all([first.connect(), second.connect()]);
    // One name, a different statement on each connection: in a shared session the second
    // Parse would fail with 42P05 (already exists), or run the first one's statement.
    const plusOne = { name: 'same', text: 'SELECT $1::int + 1 AS n' };
    const timesTen = { name: 'same', text: 'SELECT $1::int * 10 AS n' };
    for (const value of [1, 2]) {
      // The second round runs the prepared statements again (Bind and Execute only).
      expect((await first.query({ ...plusOne, values: [value] })).rows[0]?.n).toBe(value + 1);
      expect((await second.query({ ...timesTen, values: [value] })).rows[0]?.n).toBe(value * 10);
    }
    const named = async () =>
      (
        await second.query<{ statement: string }>(
          "SELECT statement FROM pg_prepared_statements WHERE name LIKE '%/same' ORDER BY statement",
        )
      ).rows.map((r) => r.statement);
    expect(await named()).toEqual([timesTen.text, plusOne.text]);
    // The first connection's Terminate runs before anything sent after its socket closed.
    await first.end();
    expect(await named()).toEqual([timesTen.text]);
    await second.end();
  });

  test('close() ends every connection and refuses new ones', async () => {
    const client = clientOn(server.url);
    await client.connect();
    const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
    await within(hangMs, () => server.close());
    await within(hangMs, () => ended);
    await expect(clientOn(server.url).connect()).rejects.toThrow();
  });
});
