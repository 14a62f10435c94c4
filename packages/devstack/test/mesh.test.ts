// The seed conversation end to end: every service a real process, real gRPC over
// 127.0.0.1, the real Postgres, the real openai SDK against the scripted model.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import {
  ChatService,
  Health,
  RegistryService,
  reflectionV1,
  HealthCheckResponse_ServingStatus as ServingStatus,
  StopReason,
} from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

let db: TestDatabase;
let mesh: Mesh;

beforeAll(async () => {
  db = await createTestDatabase();
  const ports = await freeMeshPorts();
  // DNS discovery, as in Kubernetes: the orchestrator gets names and calls every address they resolve to.
  const names = ['order', 'inventory', 'dispatch', 'ticket'] as const;
  mesh = await startMesh({
    ports,
    databaseUrl: db.url,
    env: { LOG_LEVEL: 'warn' },
    toolServiceAddresses: Object.fromEntries(names.map((n) => [n, `localhost:${ports[n]}`])),
    serviceEnv: { orchestrator: { DISCOVERY: 'dns' } },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await db?.drop();
}, 60_000);

const chatClient = (key?: string) =>
  createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, key));

const seedQuestion = 'Where is my order 202604100018? I also need an invoice for it.';

test('every process reports SERVING and answers reflection', async () => {
  for (const [name, address] of Object.entries(mesh.grpcAddresses)) {
    const health = createGrpcClient(Health, { address });
    expect([name, (await health.check({ service: '' })).status]).toEqual([name, ServingStatus.SERVING]);

    const reflection = createGrpcClient(reflectionV1.ServerReflection, { address });
    async function* list() {
      yield { messageRequest: { case: 'listServices' as const, value: '' } };
    }
    let services: string[] = [];
    for await (const res of reflection.serverReflectionInfo(list())) {
      if (res.messageResponse.case === 'listServicesResponse') {
        services = res.messageResponse.value.service.map((s) => s.name);
      }
    }
    expect(services).toContain('grpc.health.v1.Health');
    expect(services).toContain(
      name === 'gateway'
        ? 'toolmesh.v1.ChatService'
        : name === 'orchestrator'
          ? 'toolmesh.v1.RegistryService'
          : 'toolmesh.v1.ToolService',
    );
  }
});

test('a call without a key, or with an unknown key, is UNAUTHENTICATED', async () => {
  for (const client of [chatClient(), chatClient('not-a-key')]) {
    const error = await client.chat({ message: seedQuestion }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unauthenticated);
  }
});

test('the seed conversation: order, stock and dispatch, then an approved invoice ticket, exactly once', async () => {
  const client = chatClient('dev-key-u1001');
  const first = await client.chat({ message: seedQuestion });
  expect(first.conversationId).toMatch(/^[0-9a-f-]{36}$/);
  expect(first.reply).toContain('202604100018');
  expect(first.reply).toContain('shipped');
  const byName = new Map(first.toolExecutions.map((e) => [e.toolName, e]));
  expect(byName.get('get_order_detail')?.success).toBe(true);
  expect(byName.get('get_inventory_snapshot')?.success).toBe(true);
  expect(byName.get('get_dispatch_plan')?.success).toBe(true);
  // The write is not executed: it waits for the user.
  expect(first.stopReason).toBe(StopReason.AWAITING_CONFIRMATION);
  expect(first.pendingActions).toHaveLength(1);
  const action = first.pendingActions[0];
  expect(action?.toolName).toBe('create_ticket');
  expect(JSON.parse(action?.argumentsJson ?? '{}')).toMatchObject({
    order_id: '202604100018',
    category: 'invoice',
  });

  // Another user cannot decide on it, nor learn that it exists.
  const stranger = await chatClient('dev-key-u2002')
    .confirm({ conversationId: first.conversationId, actionId: action?.actionId, approve: true })
    .catch((e: unknown) => e);
  expect((stranger as ConnectError).code).toBe(Code.NotFound);

  const confirmed = await client.confirm({
    conversationId: first.conversationId,
    actionId: action?.actionId,
    approve: true,
  });
  expect(confirmed.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
  expect(confirmed.stopReason).toBe(StopReason.COMPLETED);
  const ticketId = /T-[0-9A-Z]+/.exec(confirmed.reply)?.[0];
  expect(ticketId).toBeDefined();

  // Confirming again answers the first result; no second ticket.
  const again = await client.confirm({
    conversationId: first.conversationId,
    actionId: action?.actionId,
    approve: true,
  });
  expect(again.reply).toBe(confirmed.reply);
  const tickets = await client.chat({ message: 'Please list my tickets.' });
  expect(tickets.reply.match(/T-[0-9A-Z]+/g) ?? []).toEqual([ticketId]);

  // A follow-up continues the same conversation (the order id comes from its history).
  const followUp = await client.chat({
    conversationId: first.conversationId,
    message: 'Is it still on its way?',
  });
  expect(followUp.conversationId).toBe(first.conversationId);
  expect(followUp.reply).toContain('202604100018');
});

test('isolation: u_2002 asking for the order of u_1001 learns nothing about it', async () => {
  const res = await chatClient('dev-key-u2002').chat({ message: 'Where is my order 202604100018?' });
  const detail = res.toolExecutions.find((e) => e.toolName === 'get_order_detail');
  expect(detail?.success).toBe(false);
  expect(detail?.errorCode).toBe('NOT_FOUND');
  for (const secret of ['SF1234567890', 'Shanghai-DC-03', 'shipped', 'SKU-2002'])
    expect(res.reply).not.toContain(secret);
  expect(res.toolExecutions.map((e) => e.toolName)).toEqual(['get_order_detail']);
});

test('a read-only key is never offered the write tool', async () => {
  const res = await chatClient('dev-key-readonly').chat({ message: seedQuestion });
  expect(res.pendingActions).toHaveLength(0);
  expect(res.stopReason).toBe(StopReason.COMPLETED);
  expect(res.toolExecutions.map((e) => e.toolName)).not.toContain('create_ticket');
});

test('declining a pending action runs nothing and the assistant says so', async () => {
  const client = chatClient('dev-key-u2002');
  const first = await client.chat({ message: 'I need an invoice for order 202604100042.' });
  const action = first.pendingActions[0];
  expect(action?.toolName).toBe('create_ticket');
  const declined = await client.confirm({
    conversationId: first.conversationId,
    actionId: action?.actionId,
    approve: false,
  });
  expect(declined.toolExecutions).toHaveLength(0);
  expect(declined.stopReason).toBe(StopReason.COMPLETED);
  const list = await client.chat({ message: 'List my tickets' });
  expect(list.reply).not.toMatch(/T-[0-9A-Z]+/);
});

test('ChatStream streams text deltas, tool events, the pending action, and the final response', async () => {
  const events: string[] = [];
  let text = '';
  let finalReply = '';
  for await (const res of chatClient('dev-key-u1001').chatStream({ message: seedQuestion })) {
    events.push(res.event.case ?? 'none');
    if (res.event.case === 'textDelta') text += res.event.value.text;
    if (res.event.case === 'final') finalReply = res.event.value.reply;
  }
  expect(events).toContain('textDelta');
  expect(events.filter((e) => e === 'toolCallStarted')).toHaveLength(3);
  expect(events.filter((e) => e === 'toolCallFinished')).toHaveLength(3);
  expect(events).toContain('pendingAction');
  expect(events.at(-1)).toBe('final');
  expect(finalReply).toContain(text.trim().slice(0, 20));
});

test('bad input gets clear statuses', async () => {
  const client = chatClient('dev-key-u1001');
  const status = (p: Promise<unknown>) =>
    p.then(
      () => Code[0],
      (e: ConnectError) => Code[e.code],
    );
  expect(await status(client.chat({ message: '  ' }))).toBe('InvalidArgument');
  expect(await status(client.chat({ conversationId: 'nope', message: 'hi' }))).toBe('InvalidArgument');
  expect(await status(client.chat({ message: 'x'.repeat(20_000) }))).toBe('InvalidArgument');
  expect(await status(client.chat({ message: 'x'.repeat(300_000) }))).toBe('ResourceExhausted');
  const other = await chatClient('dev-key-u2002').chat({ message: 'hello' });
  expect(await status(client.chat({ conversationId: other.conversationId, message: 'hi' }))).toBe('NotFound');
  expect(
    await status(
      client.confirm({ conversationId: other.conversationId, actionId: crypto.randomUUID(), approve: true }),
    ),
  ).toBe('NotFound');
});

test('the orchestrator found the tool services through DNS: names resolved to addresses', async () => {
  // Addresses are shown to operators only.
  const view = await createClient(
    RegistryService,
    gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-operator'),
  ).listRegisteredTools({});
  expect(view.discovery).toBe('dns');
  expect(view.endpoints.map((e) => e.address).sort()).toEqual(
    [mesh.ports.order, mesh.ports.inventory, mesh.ports.dispatch, mesh.ports.ticket]
      .map((p) => `127.0.0.1:${p}`)
      .sort(),
  );
  expect(view.endpoints.every((e) => e.reachable && e.tools.length > 0)).toBe(true);
});
