// Three orchestrators on one Postgres and Redis, as real processes. A Confirm sent to
// another orchestrator than the one that ran the turn answers as on one; Confirms of one
// action at two orchestrators at once write once; approved writes left running by an
// orchestrator killed with SIGKILL are finished by the surviving replicas' reconcilers,
// each exactly once (tickets counted in the ticket service's database).

import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { ChatService, StopReason } from '@toolmesh/proto';
import {
  createCredentialIssuer,
  createGrpcClient,
  credentialHeaders,
  meshAudience,
  meshIssuer,
  signingKeyFromFile,
} from '@toolmesh/rpc';
import {
  type CannedAnswer,
  type CannedModel,
  type CannedRequest,
  createTestDatabase,
  type DelayProxy,
  deleteRedisKeys,
  startCannedModel,
  startDelayProxy,
  type TestDatabase,
  waitFor,
} from '@toolmesh/testkit';
import pg from 'pg';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

// The ticket service keeps one open ticket per order and category: each ticket of this
// file gets a category of its own.
const categories: Record<string, string> = {
  'moved-confirm': 'invoice',
  'raced-confirm': 'refund',
  'stalled-a': 'delivery',
  'stalled-b': 'product',
  'after-kill': 'other',
};

// Proposes a ticket named by the message ("ticket:<description>"), then answers.
function respond(request: CannedRequest): CannedAnswer {
  const lastUser = request.messages.map((m) => m.role).lastIndexOf('user');
  const text = String(request.messages[lastUser]?.content ?? '');
  const step = request.messages.slice(lastUser).filter((m) => m.role === 'assistant').length;
  const description = /ticket:([\w-]+)/.exec(text)?.[1];
  if (step > 0 || !description) return { content: 'ticket handled' };
  const args = { order_id: '202604100018', category: categories[description] ?? 'other', description };
  return { toolCalls: [{ name: 'create_ticket', arguments: JSON.stringify(args) }] };
}

const redisPrefix = `toolmesh-test:${crypto.randomUUID()}:`;
const readWrite = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read', 'ticket:write'];
let db: TestDatabase;
let model: CannedModel;
let proxy: DelayProxy;
let mesh: Mesh;

beforeAll(async () => {
  db = await createTestDatabase();
  model = await startCannedModel(respond);
  const ports = await freeMeshPorts();
  // Every orchestrator reaches the ticket service through a proxy that can hold answers back.
  proxy = await startDelayProxy(`127.0.0.1:${ports.ticket}`);
  mesh = await startMesh({
    ports,
    orchestrators: 3,
    databaseUrl: db.url,
    model: { baseUrl: model.baseUrl },
    toolServiceAddresses: { ticket: proxy.address },
    env: { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: redisPrefix },
    serviceEnv: {
      // Short times, so a dead replica's work is taken over within a second or two.
      orchestrator: {
        RECONCILE_STALE_MS: '0',
        CONVERSATION_LEASE_MS: '1000',
        RECONCILE_INTERVAL_MS: '300',
      },
    },
  });
}, 180_000);

afterAll(async () => {
  await mesh?.stop();
  await proxy?.close();
  await model?.close();
  await db?.drop();
  await deleteRedisKeys(redisPrefix);
}, 60_000);

// An orchestrator called directly, with a credential the mesh's gateway key signs for u_1001,
// as the gateway would: so a test chooses which replica gets which call.
const gatewaySigned = () =>
  createCredentialIssuer({
    issuer: meshIssuer.gateway,
    signingKey: signingKeyFromFile({ path: mesh.meshKeys.gatewayKeyFile }),
  });
async function atOrchestrator(index: number) {
  const address = mesh.orchestratorAddresses[index];
  if (!address) throw new Error(`no orchestrator #${index + 1}`);
  const client = createGrpcClient(ChatService, { address });
  const options = async () => ({
    headers: credentialHeaders(
      await gatewaySigned().issue({
        principal: { userId: 'u_1001', tenantId: 't_demo', permissions: readWrite },
        requestId: `replicas-test-${crypto.randomUUID()}`,
        audience: meshAudience.orchestrator,
      }),
    ),
    timeoutMs: 30_000,
  });
  return {
    chat: async (message: string) => client.chat({ message }, await options()),
    confirm: async (conversationId: string, actionId: string, approve = true) =>
      client.confirm({ conversationId, actionId, approve }, await options()),
  };
}
const throughGateway = (): Transport => gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001');

async function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}
const ticketsNamed = async (description: string) =>
  (
    await query<{ n: number }>('SELECT count(*)::int AS n FROM tickets.tickets WHERE description = $1', [
      description,
    ])
  )[0]?.n;

async function propose(index: number, description: string) {
  const proposal = await (await atOrchestrator(index)).chat(`ticket:${description}`);
  const action = proposal.pendingActions[0];
  expect(proposal.stopReason).toBe(StopReason.AWAITING_CONFIRMATION);
  if (!action) throw new Error('no pending action');
  return { conversationId: proposal.conversationId, actionId: action.actionId };
}

test('a Confirm at another orchestrator than the turn answers as on one; Confirms at two at once write once', async () => {
  const first = await propose(0, 'moved-confirm');
  const confirmed = await (await atOrchestrator(1)).confirm(first.conversationId, first.actionId);
  expect(confirmed.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
  expect(confirmed.reply).toBe('ticket handled');
  expect(await ticketsNamed('moved-confirm')).toBe(1);
  // Asked again at the third: the stored answer, nothing written.
  const again = await (await atOrchestrator(2)).confirm(first.conversationId, first.actionId);
  expect(again.reply).toBe('ticket handled');
  expect(await ticketsNamed('moved-confirm')).toBe(1);

  const second = await propose(0, 'raced-confirm');
  const confirmAt = async (index: number) =>
    (await atOrchestrator(index)).confirm(second.conversationId, second.actionId).then(
      (r) => r.reply,
      (error: unknown) => Code[ConnectError.from(error).code],
    );
  const answers = await Promise.all([confirmAt(1), confirmAt(2)]);
  expect(answers).toContain('ticket handled');
  expect(answers.every((a) => a === 'ticket handled' || a === 'Aborted')).toBe(true);
  expect(await ticketsNamed('raced-confirm')).toBe(1);
}, 60_000);

test('approved writes of an orchestrator killed mid-write are finished by the survivors, each exactly once', async () => {
  const victim = 2;
  const stalled = [await propose(victim, 'stalled-a'), await propose(victim, 'stalled-b')];
  proxy.hold();
  const orchestrator = await atOrchestrator(victim);
  const interrupted = stalled.map((s) =>
    orchestrator.confirm(s.conversationId, s.actionId).catch((error: unknown) => error),
  );
  // The tickets are written while the answers are held back …
  await waitFor(
    async () => (await ticketsNamed('stalled-a')) === 1 && (await ticketsNamed('stalled-b')) === 1,
    {
      what: 'both tickets to be written',
    },
  );
  // … and the orchestrator that sent them dies before it hears back.
  await mesh.kill('orchestrator#3');
  for (const outcome of await Promise.all(interrupted)) expect(outcome).toBeInstanceOf(Error);
  proxy.release();

  // The survivors' reconcilers finish both (once the dead holder's lease ran out); the gateway
  // sends the Confirms to a live orchestrator, which answers ABORTED until then.
  const chat = createClient(ChatService, throughGateway());
  for (const s of stalled) {
    const answer = await waitFor(
      () =>
        chat
          .confirm({ conversationId: s.conversationId, actionId: s.actionId, approve: true })
          .catch((e: unknown) => {
            if (ConnectError.from(e).code !== Code.Aborted) throw e;
            return undefined;
          }),
      { what: 'the interrupted action to be reconciled', intervalMs: 200, timeoutMs: 60_000 },
    );
    expect(answer.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
    expect(answer.reply).toBe('ticket handled');
  }
  expect(await ticketsNamed('stalled-a')).toBe(1);
  expect(await ticketsNamed('stalled-b')).toBe(1);
  for (const s of stalled) {
    // The dead replica's execution unknown, one reconciliation done, by a survivor; one result.
    const executions = await query<{ status: string; owner: string }>(
      'SELECT status, owner FROM orchestrator.tool_executions WHERE action_id = $1 ORDER BY created_at',
      [s.actionId],
    );
    expect(executions.map((e) => e.status)).toEqual(['unknown', 'done']);
    expect(executions[1]?.owner).not.toBe(executions[0]?.owner);
    const results = await query<{ n: number }>(
      "SELECT count(*)::int AS n FROM orchestrator.messages WHERE conversation_id = $1 AND role = 'tool'",
      [s.conversationId],
    );
    expect(results[0]?.n).toBe(1);
  }
  // The survivors serve on: a new write through the gateway is proposed and written once.
  const next = await createClient(ChatService, throughGateway()).chat({ message: 'ticket:after-kill' });
  const action = next.pendingActions[0];
  const done = await chat.confirm({
    conversationId: next.conversationId,
    actionId: action?.actionId,
    approve: true,
  });
  expect(done.reply).toBe('ticket handled');
  expect(await ticketsNamed('after-kill')).toBe(1);
}, 120_000);
