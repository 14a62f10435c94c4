// Discovery through a real etcd: replicas register under leases, the orchestrator
// watches; services join and leave at run time; a rolling restart under load
// loses no chat; etcd going down keeps the last known endpoints.
import { createClient } from '@connectrpc/connect';
import { registerService } from '@toolmesh/discovery';
import { BreakerState, ChatService, RegistryService } from '@toolmesh/proto';
import { createServer, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import {
  createFigureLog,
  createTestDatabase,
  freePort,
  startEtcd,
  type TestDatabase,
  type TestEtcd,
} from '@toolmesh/testkit';
import { createToolService, defineTool } from '@toolmesh/tool-sdk';
import { z } from 'zod';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

const prefix = `/toolmesh-test-${process.pid}/`;
const figure = createFigureLog(process.env.TOOLMESH_FIGURES);
let etcd: TestEtcd;
let db: TestDatabase;
let mesh: Mesh;

beforeAll(async () => {
  etcd = await startEtcd();
  db = await createTestDatabase();
  const ports = await freeMeshPorts();
  mesh = await startMesh({
    ports,
    replicas: { order: [await freePort()] },
    databaseUrl: db.url,
    etcd: { endpoint: etcd.endpoint, prefix },
    env: { LOG_LEVEL: 'error', REGISTRATION_TTL_SECONDS: '3' },
    serviceEnv: {
      gateway: { CHAT_RATE_PER_SEC: '1000', CHAT_RATE_BURST: '1000' },
      // Every read reaches a replica (none from the cache), so restarts are really felt.
      orchestrator: { TOOL_RATE_PER_SEC: '1000', TOOL_RATE_BURST: '1000', READ_CACHE: 'off' },
    },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await db?.drop();
  await etcd?.stop();
}, 60_000);

const registry = () =>
  createClient(RegistryService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-readonly'));
const chat = () => createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));
const orderAddresses = async () =>
  (await registry().listRegisteredTools({})).tools.find((t) => t.definition?.name === 'get_order_detail')
    ?.addresses ?? [];

async function until(check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// A read chat that needs get_order_detail, get_inventory_snapshot and get_dispatch_plan.
const readChat = async () => {
  const res = await chat().chat({ message: 'Where is my order 202604100018?' });
  if (!res.toolExecutions.length || res.toolExecutions.some((e) => !e.success)) {
    throw new Error(`tool failed: ${JSON.stringify(res.toolExecutions.map((e) => e.errorMessage))}`);
  }
  return res;
};

test('the registry is filled from etcd: every replica, breaker closed, visible through the gateway', async () => {
  const view = await registry().listRegisteredTools({});
  expect(view.discovery).toBe('etcd');
  const byName = new Map(view.tools.map((t) => [t.definition?.name, t]));
  expect([...byName.keys()]).toEqual(
    expect.arrayContaining(['get_order_detail', 'get_inventory_snapshot', 'create_ticket', 'list_tickets']),
  );
  expect(byName.get('get_order_detail')?.addresses).toHaveLength(2);
  expect(byName.get('get_order_detail')).toMatchObject({ permitted: true, available: true });
  // dev-key-readonly lacks ticket:write: listed, but not offered to the model for this caller.
  expect(byName.get('create_ticket')?.permitted).toBe(false);
  expect(view.endpoints).toHaveLength(5);
  expect(view.endpoints.every((e) => e.breakerState === BreakerState.CLOSED && e.reachable)).toBe(true);
  await readChat();
});

test('a tool service joining at run time appears in the registry, and vanishes when it leaves', async () => {
  const logger = createLogger({ service: 'lab', level: 'silent' });
  const lab: Server = createServer({
    logger,
    services: [
      createToolService({
        logger,
        tools: [
          defineTool({
            name: 'ping_lab',
            description: 'Answers pong.',
            input: z.strictObject({}),
            metadata: { sideEffect: 'read', permission: 'order:read' },
            handler: async () => ({ pong: true }),
          }),
        ],
      }),
    ],
  });
  const port = await lab.listen(0);
  lab.health.setAll(true);
  const names = async () => (await registry().listRegisteredTools({})).tools.map((t) => t.definition?.name);
  const registration = await registerService({
    endpoints: [etcd.endpoint],
    prefix,
    service: 'lab',
    address: `127.0.0.1:${port}`,
  });
  try {
    const joining = Date.now();
    await until(async () => (await names()).includes('ping_lab'), 5_000);
    figure('etcd: a new tool service is in the registry after', Date.now() - joining, 'ms');
  } finally {
    await registration.deregister();
  }
  const leaving = Date.now();
  await until(async () => !(await names()).includes('ping_lab'), 5_000);
  figure('etcd: a deregistered service leaves the registry after', Date.now() - leaving, 'ms');
  await lab.shutdown(1_000);
});

test('rolling restart of both order replicas under load: no chat fails', async () => {
  let rolling = true;
  const results: Array<'ok' | string> = [];
  const worker = async () => {
    while (rolling) {
      results.push(
        await readChat().then(
          () => 'ok',
          (e: Error) => e.message,
        ),
      );
    }
  };
  const load = Promise.all([worker(), worker(), worker()]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  // Like a Deployment's rolling update: one replica at a time, each back and
  // registered before the next one goes (SIGTERM: NOT_SERVING → deregister → drain).
  for (const replica of ['order', 'order#2']) {
    await mesh.restart(replica);
    await until(async () => (await orderAddresses()).length === 2);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  rolling = false;
  await load;
  expect(results.length).toBeGreaterThan(20);
  expect(results.filter((r) => r !== 'ok')).toEqual([]);
  figure('rolling restart of 2 order replicas under load: chats ok', `${results.length}/${results.length}`);
}, 90_000);

test('etcd down: the last known endpoints keep serving; back up: registrations return', async () => {
  await etcd.kill();
  for (let i = 0; i < 5; i++) await readChat();
  expect(await orderAddresses()).toHaveLength(2);
  // Longer than the 3 s registration TTL: nothing is dropped while etcd cannot answer.
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  for (let i = 0; i < 5; i++) await readChat();
  figure('etcd down > lease TTL: read chats ok', '10/10');
  const restarted = Date.now();
  await etcd.start();
  await until(async () => (await registry().listRegisteredTools({})).endpoints.length === 5, 30_000);
  figure('etcd back: all 5 replicas registered again after', Date.now() - restarted, 'ms');
  expect(await orderAddresses()).toHaveLength(2);
  await readChat();
}, 60_000);
