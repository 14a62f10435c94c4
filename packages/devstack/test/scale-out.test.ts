// Scale-out against real processes: two gateways and three orchestrators on one real Postgres,
// Redis and etcd (orchestrators register, gateways watch). Load spreads over the orchestrators
// (read from their own /metrics); kill -9 of one under load loses no conversation, leaves no tool
// call running and writes no ticket twice; Confirms go through the other gateway. Then the
// embedded default database serving several orchestrators. Facts only, never elapsed time.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { ChatService, StopReason } from '@toolmesh/proto';
import {
  createFigureLog,
  createTestDatabase,
  deleteRedisKeys,
  startEtcd,
  type TestDatabase,
  type TestEtcd,
  waitFor,
} from '@toolmesh/testkit';
import pg from 'pg';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

// TOOLMESH_FIGURES=<file> collects the measured spread for docs/scaling.md.
const figure = createFigureLog(process.env.TOOLMESH_FIGURES);
const seedQuestion = 'Where is my order 202604100018? I also need an invoice for it.';
const orchestrators = ['orchestrator', 'orchestrator#2', 'orchestrator#3'];
// Chats and tool calls of one user, many at once: the per-user limits must not be what is tested.
const unlimited = {
  gateway: { CHAT_RATE_PER_SEC: '1000', CHAT_RATE_BURST: '1000' },
  orchestrator: { TOOL_RATE_PER_SEC: '1000', TOOL_RATE_BURST: '1000' },
};

const chatVia = (mesh: Mesh, gateway: number) =>
  createClient(ChatService, gatewayTransport(mesh.gatewayAddresses[gateway] ?? '', 'dev-key-u1001'));

// Chat and Confirm RPCs an orchestrator's server started or answered so far, from its own /metrics.
async function chatCalls(mesh: Mesh, name: string, series: 'started' | 'handled'): Promise<number> {
  const text = await (await fetch(mesh.metricsUrls[name] ?? '')).text();
  return text
    .split('\n')
    .filter(
      (l) =>
        l.startsWith(`grpc_server_${series}_total{`) &&
        l.includes('grpc_service="toolmesh.v1.ChatService"') &&
        /grpc_method="(Chat|Confirm)"/.test(l),
    )
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}
const chatsServed = (mesh: Mesh, name: string) => chatCalls(mesh, name, 'handled');
const chatsInFlight = async (mesh: Mesh, name: string) =>
  (await chatCalls(mesh, name, 'started')) - (await chatCalls(mesh, name, 'handled'));

// Runs `jobs` at most `concurrency` at a time.
async function pool<T>(count: number, concurrency: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await job(i);
      }
    }),
  );
  return results;
}

// A turn interrupted by a dying orchestrator answers UNAVAILABLE; one whose conversation is still
// leased by the dead replica answers ABORTED until the lease runs out. Both are retried, with the
// same idempotency key (a chat) or the same action (a Confirm), so nothing runs twice.
const retriable = (e: unknown) =>
  e instanceof ConnectError && (e.code === Code.Unavailable || e.code === Code.Aborted);
// The services' error lines, so an unexpected failure says what the mesh logged.
const serviceErrors: string[] = [];
const collectErrors = (service: string, line: string) => {
  if (line.includes('"level":"error"')) serviceErrors.push(`${service}: ${line.slice(0, 2_000)}`);
};
const explained = (error: unknown) =>
  serviceErrors.length
    ? new Error(`${String(error)}; last errors the services logged:\n${serviceErrors.slice(-5).join('\n')}`, {
        cause: error,
      })
    : error;

async function untilAnswered<T>(attempt: () => Promise<T>, what: string, failures: { n: number }) {
  return waitFor(
    () =>
      attempt().catch((e: unknown) => {
        if (!retriable(e)) throw explained(e);
        failures.n++;
        return undefined;
      }),
    { what, intervalMs: 100, timeoutMs: 60_000 },
  );
}

// More orders of u_1001 like the demo's 202604100018 (same items and dispatch plan, invoice not
// ready), so each conversation opens its own invoice ticket: one open ticket per order and category.
const orderIds = (count: number) =>
  Array.from({ length: count }, (_, i) => `2026041010${String(i).padStart(2, '0')}`);
async function seedOrders(url: string, ids: readonly string[]) {
  const copy = (table: string) => `
    CREATE TEMP TABLE seed AS SELECT * FROM ${table} WHERE tenant_id = 't_demo' AND order_id = '202604100018';
    INSERT INTO ${table} SELECT (jsonb_populate_record(seed, jsonb_build_object('order_id', id))).*
      FROM seed, unnest('{${ids.join(',')}}'::text[]) AS id;
    DROP TABLE seed;`;
  await query(url, [copy('orders.orders'), copy('orders.order_items'), copy('dispatch.plans')].join('\n'));
}
const question = (orderId: string) => `Where is my order ${orderId}? I also need an invoice for it.`;

const ticketCount = async (url: string) =>
  (await query<{ n: number }>(url, 'SELECT count(*)::int AS n FROM tickets.tickets'))[0]?.n ?? 0;

async function query<R extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe('two gateways, three orchestrators, one Postgres, Redis and etcd', () => {
  const redisPrefix = `toolmesh-test:${crypto.randomUUID()}:`;
  let etcd: TestEtcd;
  let db: TestDatabase;
  let mesh: Mesh;

  beforeAll(async () => {
    etcd = await startEtcd();
    db = await createTestDatabase();
    mesh = await startMesh({
      ports: await freeMeshPorts(),
      orchestrators: 3,
      gateways: 2,
      startTimeoutMs: 150_000,
      databaseUrl: db.url,
      etcd: { endpoint: etcd.endpoint, prefix: `/toolmesh-test-${process.pid}/services/` },
      onLine: collectErrors,
      env: {
        LOG_LEVEL: 'error',
        REDIS_URL: 'redis://127.0.0.1:6379',
        REDIS_PREFIX: redisPrefix,
        REGISTRATION_TTL_SECONDS: '2',
      },
      serviceEnv: {
        gateway: unlimited.gateway,
        // A short lease and staleness, so a dead replica's conversations move within a second or two.
        orchestrator: {
          ...unlimited.orchestrator,
          CONVERSATION_LEASE_MS: '1000',
          RECONCILE_STALE_MS: '1000',
          RECONCILE_INTERVAL_MS: '300',
        },
      },
    });
  }, 300_000);

  afterAll(async () => {
    await mesh?.stop();
    await db?.drop();
    await etcd?.stop();
    await deleteRedisKeys(redisPrefix);
  }, 60_000);

  test('each orchestrator serves a share of the chats of both gateways; turns of one conversation stay on one', async () => {
    const before = await Promise.all(orchestrators.map((o) => chatsServed(mesh, o)));
    const chats = 30;
    const replies = await pool(chats, 3, (i) =>
      chatVia(mesh, i % 2)
        .chat({ message: seedQuestion })
        .catch((e: unknown) => {
          throw explained(e);
        }),
    );
    expect(replies.every((r) => r.reply.includes('202604100018'))).toBe(true);
    const after = await Promise.all(orchestrators.map((o) => chatsServed(mesh, o)));
    const served = after.map((n, i) => n - (before[i] ?? 0));
    figure('chats served by each of 3 orchestrators (30 new chats, 2 gateways)', served.join(' / '));
    expect(served.reduce((a, b) => a + b, 0)).toBe(chats);
    // Each replica takes a share (new conversations go to the least loaded, in turn).
    for (const n of served) expect(n).toBeGreaterThanOrEqual(chats / 10);

    // Later turns of one conversation, through either gateway, prefer one replica (rendezvous hashing
    // on the conversation id over the same healthy set, so both gateways agree).
    const conversationId = replies[0]?.conversationId ?? '';
    const start = await Promise.all(orchestrators.map((o) => chatsServed(mesh, o)));
    for (let turn = 0; turn < 6; turn++)
      await chatVia(mesh, turn % 2).chat({ conversationId, message: 'Is it still on its way?' });
    const end = await Promise.all(orchestrators.map((o) => chatsServed(mesh, o)));
    expect(end.map((n, i) => n - (start[i] ?? 0)).sort()).toEqual([0, 0, 6]);
  }, 120_000);

  test('kill -9 of one orchestrator under load: no lost conversation, no running tool call, no second ticket', async () => {
    const conversations = 36;
    const orders = orderIds(conversations);
    await seedOrders(db.url, orders);
    const ticketsBefore = await ticketCount(db.url);
    const failures = { n: 0 };
    // Conversations one of whose turns failed (UNAVAILABLE, ABORTED) before it answered.
    const affected = new Set<number>();
    let done = 0;
    let killed = false;
    // Once the load runs, orchestrator#2 dies (SIGKILL) while it is serving a turn.
    const killer = (async () => {
      await waitFor(() => done >= 8, { what: '8 conversations done before the kill', intervalMs: 20 });
      await waitFor(async () => (await chatsInFlight(mesh, 'orchestrator#2')) > 0, {
        what: 'a turn in flight on orchestrator#2',
        intervalMs: 5,
      });
      await mesh.kill('orchestrator#2');
      killed = true;
    })();
    // Each conversation: a chat through one gateway (which proposes the invoice ticket), then its
    // Confirm through the other gateway.
    const load = pool(conversations, 3, async (i) => {
      const mine = { n: 0 };
      const key = `scale-out-${i}-${crypto.randomUUID()}`;
      const first = await untilAnswered(
        () => chatVia(mesh, i % 2).chat({ message: question(orders[i] ?? ''), idempotencyKey: key }),
        `conversation ${i} to start`,
        mine,
      );
      expect(first.stopReason).toBe(StopReason.AWAITING_CONFIRMATION);
      const action = first.pendingActions[0];
      expect(action?.toolName).toBe('create_ticket');
      const confirmed = await untilAnswered(
        () =>
          chatVia(mesh, (i + 1) % 2).confirm({
            conversationId: first.conversationId,
            actionId: action?.actionId,
            approve: true,
          }),
        `the Confirm of conversation ${i}`,
        mine,
      );
      done++;
      failures.n += mine.n;
      if (mine.n) affected.add(i);
      return {
        conversationId: first.conversationId,
        actionId: action?.actionId ?? '',
        reply: confirmed.reply,
      };
    });
    const [results] = await Promise.all([load, killer]);
    expect(killed).toBe(true);
    figure(
      'kill -9 of 1 of 3 orchestrators under load: conversations affected / turns retried',
      `${affected.size} / ${failures.n}`,
    );

    // Every conversation answered, each with its own ticket.
    const ticketIds = results.map((r) => /T-[0-9A-Z]+/.exec(r.reply)?.[0]);
    expect(ticketIds.every(Boolean)).toBe(true);
    expect(new Set(ticketIds).size).toBe(conversations);
    // No duplicate write: exactly one ticket per conversation in the ticket service's own database.
    const ticketsAfter = await ticketCount(db.url);
    expect(ticketsAfter - ticketsBefore).toBe(conversations);
    // Every approved action executed, and none left executing.
    const actions = await query<{ status: string; n: number }>(
      db.url,
      'SELECT status, count(*)::int AS n FROM orchestrator.pending_actions WHERE action_id = ANY($1) GROUP BY status',
      [results.map((r) => r.actionId)],
    );
    expect(actions).toEqual([{ status: 'executed', n: conversations }]);
    const executing = await query<{ n: number }>(
      db.url,
      "SELECT count(*)::int AS n FROM orchestrator.pending_actions WHERE status = 'executing'",
    );
    expect(executing[0]?.n).toBe(0);
    // No dangling tool call: whatever the dead replica was running is reconciled (status unknown,
    // then what really happened), nothing stays running.
    await waitFor(
      async () =>
        (
          await query<{ n: number }>(
            db.url,
            "SELECT count(*)::int AS n FROM orchestrator.tool_executions WHERE status = 'running'",
          )
        )[0]?.n === 0,
      { what: 'no tool execution left running', intervalMs: 200 },
    );
    const doneWrites = await query<{ n: number }>(
      db.url,
      "SELECT count(*)::int AS n FROM orchestrator.tool_executions WHERE action_id = ANY($1) AND status = 'done'",
      [results.map((r) => r.actionId)],
    );
    expect(doneWrites[0]?.n).toBe(conversations);

    // Every conversation, the dead replica's too, answers its next turn.
    await pool(conversations, 3, (i) =>
      untilAnswered(
        () =>
          chatVia(mesh, i % 2).chat({
            conversationId: results[i]?.conversationId ?? '',
            message: 'Is it still on its way?',
          }),
        `conversation ${i} to answer again`,
        failures,
      ).then((r) => expect(r.reply).toContain(orders[i])),
    );
  }, 300_000);
});

describe('the embedded default database (PGlite wire server) with two orchestrators', () => {
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await startMesh({
      ports: await freeMeshPorts(),
      orchestrators: 2,
      gateways: 2,
      // PGlite starts in seconds on an idle machine, in minutes on a busy one.
      startTimeoutMs: 150_000,
      env: { LOG_LEVEL: 'error' },
      onLine: collectErrors,
      serviceEnv: unlimited,
    });
  }, 300_000);

  afterAll(async () => {
    await mesh?.stop();
  }, 60_000);

  test('serves both: chats spread, a Confirm through the other gateway writes one ticket', async () => {
    const served = async () => Promise.all(orchestrators.slice(0, 2).map((o) => chatsServed(mesh, o)));
    const orders = orderIds(8);
    await seedOrders(`postgres://postgres@127.0.0.1:${mesh.ports.database}/postgres`, orders);
    const before = await served();
    const results = await pool(8, 2, async (i) => {
      const first = await chatVia(mesh, i % 2).chat({ message: question(orders[i] ?? '') });
      const action = first.pendingActions[0];
      const confirmed = await chatVia(mesh, (i + 1) % 2).confirm({
        conversationId: first.conversationId,
        actionId: action?.actionId,
        approve: true,
      });
      const again = await chatVia(mesh, i % 2).confirm({
        conversationId: first.conversationId,
        actionId: action?.actionId,
        approve: true,
      });
      expect(again.reply).toBe(confirmed.reply);
      return /T-[0-9A-Z]+/.exec(confirmed.reply)?.[0];
    }).catch((e: unknown) => {
      throw explained(e);
    });
    expect(new Set(results).size).toBe(8);
    const after = await served();
    for (const [i, n] of after.entries()) expect(n - (before[i] ?? 0)).toBeGreaterThan(0);
  }, 180_000);
});
