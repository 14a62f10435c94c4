// Backends going away under a running mesh: Redis (cache and shared limits) and
// Postgres (conversations, approvals, tool data), each cut by a TCP proxy that
// resets every connection and refuses new ones, then restored.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { ChatService } from '@toolmesh/proto';
import {
  createFigureLog,
  createTestDatabase,
  type DelayProxy,
  deleteRedisKeys,
  startDelayProxy,
  type TestDatabase,
  waitFor,
} from '@toolmesh/testkit';
import pg from 'pg';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

const figure = createFigureLog(process.env.TOOLMESH_FIGURES);
const redisPrefix = `toolmesh-test-${process.pid}-outage:`;
let db: TestDatabase;
let pgProxy: DelayProxy;
let redisProxy: DelayProxy;
let mesh: Mesh;

beforeAll(async () => {
  db = await createTestDatabase();
  pgProxy = await startDelayProxy('127.0.0.1:5432');
  redisProxy = await startDelayProxy('127.0.0.1:6379');
  const ports = await freeMeshPorts();
  const url = new URL(db.url);
  url.host = pgProxy.address;
  mesh = await startMesh({
    ports,
    databaseUrl: url.toString(),
    env: {
      LOG_LEVEL: 'error',
      METRICS_PORT: '0',
      REDIS_URL: `redis://${redisProxy.address}`,
      REDIS_PREFIX: redisPrefix,
    },
    serviceEnv: {
      gateway: { CHAT_RATE_PER_SEC: '1000', CHAT_RATE_BURST: '1000' },
      orchestrator: { TOOL_RATE_PER_SEC: '1000', TOOL_RATE_BURST: '1000' },
    },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await pgProxy?.close();
  await redisProxy?.close();
  await db?.drop();
  await deleteRedisKeys(redisPrefix);
}, 60_000);

const chat = () => createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));
const failureOf = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );

test('Redis down: read chats are served without the cache and limits stay local; back up: shared again', async () => {
  const client = chat();
  const ask = () => client.chat({ message: 'Where is my order 202604100018?' });
  expect((await ask()).toolExecutions.every((e) => e.success)).toBe(true);
  expect((await ask()).toolExecutions.some((e) => e.cached)).toBe(true);

  await redisProxy.cut();
  const started = Date.now();
  for (let i = 0; i < 5; i++) {
    const res = await ask();
    expect(res.toolExecutions.map((e) => [e.success, e.cached])).toEqual([
      [true, false],
      [true, false],
      [true, false],
    ]);
  }
  figure('Redis down: 5 read chats (15 uncached tool calls) served in', Date.now() - started, 'ms');

  await redisProxy.restore();
  // The client reconnects by itself; chats find the shared cache again.
  await waitFor(async () => (await ask()).toolExecutions.some((e) => e.cached), {
    what: 'a read chat answered from the Redis cache again',
    intervalMs: 250,
  });
  figure('Redis back: cache hits again', 'yes');
}, 60_000);

test('Postgres down: a clear UNAVAILABLE and nothing half-written; back up: the approved write runs once', async () => {
  const client = chat();
  const first = await client.chat({
    message: 'Where is my order 202604100018? I also need an invoice for it.',
  });
  const action = first.pendingActions[0];
  expect(action?.toolName).toBe('create_ticket');
  const confirm = () =>
    client.confirm({ conversationId: first.conversationId, actionId: action?.actionId ?? '', approve: true });

  await pgProxy.cut();
  const cutAt = Date.now();
  const refused = await failureOf(confirm());
  figure('Postgres down: Confirm answered UNAVAILABLE in', Date.now() - cutAt, 'ms');
  expect([refused?.code, refused?.rawMessage]).toEqual([
    Code.Unavailable,
    'storage is unavailable, retry later',
  ]);
  const newChat = await failureOf(client.chat({ message: 'Where is my order 202604100018?' }));
  expect(newChat?.code).toBe(Code.Unavailable);

  await pgProxy.restore();
  // Pools reconnect by themselves; until then Confirm keeps answering UNAVAILABLE.
  const done = await waitFor(
    () =>
      confirm().catch((e: unknown) => {
        if (ConnectError.from(e).code !== Code.Unavailable) throw e;
        return undefined;
      }),
    { what: 'Confirm to succeed once Postgres is back', intervalMs: 250 },
  );
  expect(done.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
  // A repeated Confirm answers the first result; exactly one ticket exists.
  expect((await confirm()).toolExecutions[0]?.success).toBe(true);
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  try {
    const { rows } = await sql.query(
      `SELECT count(*)::int AS n FROM tickets.tickets WHERE order_id = '202604100018' AND category = 'invoice'`,
    );
    expect(rows[0]?.n).toBe(1);
    figure('Postgres back: tickets created by the interrupted approval', rows[0]?.n);
  } finally {
    await sql.end();
  }
}, 90_000);
