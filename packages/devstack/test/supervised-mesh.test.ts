// A supervised mesh of real processes: kill -9 a tool service or the orchestrator and the
// rest keeps serving, the supervisor restarts it on the same ports, chats use it again.
// The supervisor runs on a manual clock, so "still down" and "restart now" are the test's
// decisions, not races with a backoff timer.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { ChatService } from '@toolmesh/proto';
import { waitForServing } from '@toolmesh/rpc';
import { createTestDatabase, type TestDatabase, waitFor } from '@toolmesh/testkit';
import {
  describeSupervisorEvent,
  freeMeshPorts,
  type Mesh,
  type SupervisorEvent,
  startMesh,
} from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

const clock = createManualClock();
const events: SupervisorEvent[] = [];
let db: TestDatabase;
let mesh: Mesh;

beforeAll(async () => {
  db = await createTestDatabase();
  mesh = await startMesh({
    ports: await freeMeshPorts(),
    databaseUrl: db.url,
    env: { LOG_LEVEL: 'warn' },
    supervise: { clock, onEvent: (event) => events.push(event) },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await db?.drop();
}, 60_000);

const chat = () => createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));
const eventOf = <T extends SupervisorEvent['type']>(type: T, service: string) =>
  waitFor(
    () =>
      events.find(
        (e): e is Extract<SupervisorEvent, { type: T }> => e.type === type && e.service === service,
      ),
    { what: `${type} of ${service}`, timeoutMs: 90_000 },
  );
const metricsAnswer = async (service: string) => (await fetch(mesh.metricsUrls[service] ?? '')).ok;

test('kill -9 of the inventory service: chats still answer with the stock call failed; it comes back on its ports', async () => {
  const before = mesh.processes.get('inventory')?.pid;
  await mesh.kill('inventory');
  const exited = await eventOf('exited', 'inventory');
  expect(exited).toMatchObject({ pid: before, exit: { signal: 'SIGKILL' }, restartInMs: 500 });
  expect(describeSupervisorEvent(exited)).toContain('inventory');

  // Down (the restart waits for the clock): the gateway answers, the model is told the stock call failed.
  const down = await chat().chat({ message: 'Where is my order 202604100018?' });
  expect(down.reply).toContain('202604100018');
  const stock = down.toolExecutions.find((e) => e.toolName === 'get_inventory_snapshot');
  expect(stock?.success).toBe(false);
  expect(down.toolExecutions.find((e) => e.toolName === 'get_order_detail')?.success).toBe(true);

  await clock.advance(500);
  await eventOf('restarted', 'inventory');
  const up = await eventOf('up', 'inventory');
  expect(up.pid).not.toBe(before);
  expect(mesh.processes.get('inventory')?.pid).toBe(up.pid);
  await waitForServing(mesh.grpcAddresses.inventory, { timeoutMs: 60_000 });
  expect(await metricsAnswer('inventory')).toBe(true);

  // The orchestrator reaches it again on the same address.
  const again = await waitFor(
    async () => {
      const res = await chat().chat({ message: 'Where is my order 202604100018?' });
      const stock = res.toolExecutions.find((e) => e.toolName === 'get_inventory_snapshot');
      return stock?.success && !stock.cached && res;
    },
    { what: 'a chat whose stock call succeeds', timeoutMs: 60_000, intervalMs: 250 },
  );
  expect(again.reply).toContain('shipped');
}, 180_000);

test('kill -9 of the orchestrator: the gateway answers UNAVAILABLE, then the restarted orchestrator serves chats', async () => {
  const before = mesh.processes.get('orchestrator')?.pid;
  await mesh.kill('orchestrator');
  await eventOf('exited', 'orchestrator');
  const refused = await chat()
    .chat({ message: 'Where is my order 202604100018?' })
    .then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
  expect(refused?.code).toBe(Code.Unavailable);

  await clock.advance(500);
  const up = await eventOf('up', 'orchestrator');
  expect(up.pid).not.toBe(before);
  await waitForServing(mesh.grpcAddresses.orchestrator, { timeoutMs: 60_000 });
  expect(await metricsAnswer('orchestrator')).toBe(true);
  const res = await waitFor(
    () =>
      chat()
        .chat({ message: 'Where is my order 202604100018?' })
        .catch(() => undefined),
    { what: 'a chat through the restarted orchestrator', timeoutMs: 60_000, intervalMs: 250 },
  );
  expect(res.reply).toContain('shipped');
  // Nothing else was restarted.
  expect(events.filter((e) => e.type === 'exited').map((e) => e.service)).toEqual([
    'inventory',
    'orchestrator',
  ]);
}, 180_000);
