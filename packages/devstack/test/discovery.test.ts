// Discovery through a real etcd: replicas register under leases, the orchestrator
// watches; services join and leave at run time; a rolling restart under load
// loses no chat; etcd going down keeps the last known endpoints.
import { createClient } from '@connectrpc/connect';
import { registerService } from '@toolmesh/discovery';
import { BreakerState, ChatService, RegistryService } from '@toolmesh/proto';
import { jwksFromFile, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import {
  createFigureLog,
  createTestDatabase,
  freePort,
  startEtcd,
  type TestDatabase,
  type TestEtcd,
  waitFor,
} from '@toolmesh/testkit';
import { createToolServer, defineTool } from '@toolmesh/tool-sdk';
import { z } from 'zod';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

const prefix = `/toolmesh-test-${process.pid}/`;
const figure = createFigureLog(process.env.TOOLMESH_FIGURES);
let etcd: TestEtcd;
let db: TestDatabase;
let mesh: Mesh;
const lines: { service: string; line: string }[] = [];

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
      // Warnings of the order replicas say when they lost their etcd lease.
      order: { LOG_LEVEL: 'warn' },
      'order#2': { LOG_LEVEL: 'warn' },
      gateway: { CHAT_RATE_PER_SEC: '1000', CHAT_RATE_BURST: '1000' },
      // Every read reaches a replica (none from the cache), so restarts are really felt.
      orchestrator: { TOOL_RATE_PER_SEC: '1000', TOOL_RATE_BURST: '1000', READ_CACHE: 'off' },
    },
    onLine: (service, line) => lines.push({ service, line }),
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await db?.drop();
  await etcd?.stop();
}, 60_000);

// The registry as a caller without ticket:write sees it, and as an operator (who alone sees addresses).
const readonlyRegistry = () =>
  createClient(RegistryService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-readonly'));
const registry = () =>
  createClient(RegistryService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-operator'));
const chat = () => createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));
const orderAddresses = async () =>
  (await registry().listRegisteredTools({})).tools.find((t) => t.definition?.name === 'get_order_detail')
    ?.addresses ?? [];

const bothOrderReplicas = () =>
  waitFor(async () => (await orderAddresses()).length === 2, {
    what: 'both order replicas in the registry',
    intervalMs: 100,
  });

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
  expect(byName.get('get_order_detail')?.available).toBe(true);
  expect(view.endpoints).toHaveLength(5);
  expect(view.endpoints.every((e) => e.breakerState === BreakerState.CLOSED && e.reachable)).toBe(true);
  const readonly = new Map(
    (await readonlyRegistry().listRegisteredTools({})).tools.map((t) => [t.definition?.name, t]),
  );
  expect(readonly.get('get_order_detail')).toMatchObject({ permitted: true, available: true });
  // dev-key-readonly lacks ticket:write: listed, but not offered to the model for this caller.
  expect(readonly.get('create_ticket')?.permitted).toBe(false);
  await readChat();
});

test('a tool service joining at run time appears in the registry, and vanishes when it leaves', async () => {
  const logger = createLogger({ service: 'lab', level: 'silent' });
  // Like any tool service, it verifies the mesh's credentials (its public keys from the mesh's JWKS).
  const lab: Server = createToolServer({
    logger,
    meshKeys: jwksFromFile({ path: mesh.meshKeys.jwksFile }),
    tools: [
      defineTool({
        name: 'ping_lab',
        description: 'Answers pong.',
        input: z.strictObject({}),
        metadata: { sideEffect: 'read', permission: 'order:read' },
        handler: async () => ({ pong: true }),
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
    await waitFor(async () => (await names()).includes('ping_lab'), {
      what: 'ping_lab in the registry',
      intervalMs: 100,
    });
    figure('etcd: a new tool service is in the registry after', Date.now() - joining, 'ms');
  } finally {
    await registration.deregister();
  }
  const leaving = Date.now();
  await waitFor(async () => !(await names()).includes('ping_lab'), {
    what: 'ping_lab gone from the registry',
    intervalMs: 100,
  });
  figure('etcd: a deregistered service leaves the registry after', Date.now() - leaving, 'ms');
  await lab.shutdown(1_000);
});

test('rolling restart of both order replicas under load: no chat fails', async () => {
  let rolling = true;
  let restarting: string | undefined;
  const results: Array<'ok' | string> = [];
  // Chats that completed while each replica was being restarted.
  const duringRestart: Record<string, number> = {};
  const worker = async () => {
    while (rolling) {
      results.push(
        await readChat().then(
          () => 'ok',
          (e: Error) => e.message,
        ),
      );
      if (restarting) duringRestart[restarting] = (duringRestart[restarting] ?? 0) + 1;
    }
  };
  const load = Promise.all([worker(), worker(), worker()]);
  await waitFor(() => results.length >= 10, { what: 'the load to be running' });
  // Like a Deployment's rolling update: one replica at a time, each back and
  // registered before the next one goes (SIGTERM: NOT_SERVING → deregister → drain).
  for (const replica of ['order', 'order#2']) {
    restarting = replica;
    await mesh.restart(replica);
    await bothOrderReplicas();
    restarting = undefined;
  }
  const afterRestarts = results.length;
  await waitFor(() => results.length >= afterRestarts + 10, { what: 'chats after the restarts' });
  rolling = false;
  await load;
  expect(results.filter((r) => r !== 'ok')).toEqual([]);
  expect(duringRestart).toEqual({ order: expect.any(Number), 'order#2': expect.any(Number) });
  figure('rolling restart of 2 order replicas under load: chats ok', `${results.length}/${results.length}`);
}, 90_000);

test('etcd down: the last known endpoints keep serving after the leases ran out; back up: registrations return', async () => {
  const from = lines.length;
  const leaseLost = (service: string) =>
    lines.slice(from).some((l) => l.service === service && l.line.includes('etcd registration failed'));
  await etcd.kill();
  // Chats keep being served until both order replicas have given their leases up
  // (etcd silent for longer than the 3 s registration TTL) …
  let served = 0;
  await waitFor(
    async () => {
      await readChat();
      served++;
      return leaseLost('order') && leaseLost('order#2');
    },
    { what: 'both order replicas to report their etcd lease lost', intervalMs: 100 },
  );
  // … and the orchestrator still routes to both of them.
  expect(await orderAddresses()).toHaveLength(2);
  for (let i = 0; i < 5; i++) await readChat();
  figure('etcd down > lease TTL: read chats ok', `${served + 5}/${served + 5}`);
  const restarted = Date.now();
  await etcd.start();
  await waitFor(async () => (await registry().listRegisteredTools({})).endpoints.length === 5, {
    what: 'all 5 replicas registered again',
    intervalMs: 100,
  });
  figure('etcd back: all 5 replicas registered again after', Date.now() - restarted, 'ms');
  expect(await orderAddresses()).toHaveLength(2);
  await readChat();
}, 90_000);
