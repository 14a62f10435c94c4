// `npm start` as a newcomer runs it: embedded PGlite, scripted model, every service
// its own process, supervised: kill -9 a service and it comes back while the rest serves;
// SIGTERM stops all of them.

import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, type ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ChatService, RegistryService } from '@toolmesh/proto';
import { waitForServing } from '@toolmesh/rpc';
import { waitFor } from '@toolmesh/testkit';
import { type Launcher, launcherPortNames, startLauncher } from './start-launcher.ts';

let dataDir: string;
let launcher: Launcher;

const isOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'toolmesh-npm-start-'));
  launcher = await startLauncher({ dataDir });
}, 120_000);

afterAll(async () => {
  if (launcher?.child.exitCode === null) launcher.child.kill('SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

const client = () =>
  createClient(
    ChatService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${launcher.ports.GATEWAY}`, defaultTimeoutMs: 30_000 }),
  );
const auth = { headers: { authorization: 'Bearer dev-key-u1001' } };

test('prints where everything listens, where the data is, and a ready-to-paste grpcurl command', () => {
  const output = launcher.output();
  expect(output).toContain(`127.0.0.1:${launcher.ports.GATEWAY}`);
  expect(output).toContain('toolmesh.v1.ChatService/Chat');
  expect(output).toContain("-H 'authorization: Bearer dev-key-u1001'");
  expect(output).toContain(`data: ${dataDir} (new; kept for the next run)`);
  // The launcher runs in the repository: the demo's assistants file, named relative to it.
  expect(output).toContain('assistants: config/assistants.yaml');
  expect(output).toContain('publishing policy: config/publishing-policy.yaml');
});

test('the seed question is answered on the embedded defaults', async () => {
  const res = await client().chat(
    { message: 'Where is my order 202604100018? I also need an invoice for it.' },
    auth,
  );
  expect(res.reply).toContain('shipped');
  expect(res.toolExecutions.find((e) => e.toolName === 'get_order_detail')?.success).toBe(true);
  // Through the demo's assistant (config/assistants.yaml), the tenant's default.
  expect(res.usage?.assistant).toBe('shop-support');
  // Under the demo's publishing policy every demo service publishes its own tools: none refused.
  const registry = createClient(
    RegistryService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${launcher.ports.GATEWAY}`, defaultTimeoutMs: 30_000 }),
  );
  const view = await registry.listRegisteredTools(
    {},
    { headers: { authorization: 'Bearer dev-key-operator' } },
  );
  expect(view.refusedTools).toEqual([]);
  expect(view.publishingPolicy).toContain('publishing-policy.yaml');
  const unauthenticated = await client()
    .chat({ message: 'hi' })
    .catch((e: unknown) => e);
  expect((unauthenticated as ConnectError).code).toBe(Code.Unauthenticated);
});

test('kill -9 of a tool service: the gateway keeps answering, the launcher says so and restarts it on its port', async () => {
  const pid = launcher.servicePid('inventory');
  expect(pid).toBeDefined();
  process.kill(pid ?? 0, 'SIGKILL');
  await launcher.waitForOutput(`inventory (pid ${pid}) exited unexpectedly (killed by SIGKILL)`);
  expect(launcher.output()).toMatch(/inventory \(pid \d+\) exited unexpectedly .* restarting in 0\.5 s/);

  // Whether the stock call meets the service down or back, the gateway answers.
  const meanwhile = await client().chat({ message: 'Where is my order 202604100018?' }, auth);
  expect(meanwhile.reply).toContain('202604100018');

  await launcher.waitForOutput(/inventory \(pid \d+\) is back up/);
  const restarted = launcher.servicePid('inventory');
  expect(restarted).not.toBe(pid);
  await waitForServing(`127.0.0.1:${launcher.ports.INVENTORY}`, { timeoutMs: 60_000 });
  // Another user's order: a stock call no cache has seen, so it reaches the restarted service.
  const res = await waitFor(
    async () => {
      const answer = await client().chat(
        { message: 'Where is my order 202604100042?' },
        { headers: { authorization: 'Bearer dev-key-u2002' } },
      );
      const stock = answer.toolExecutions.find((e) => e.toolName === 'get_inventory_snapshot');
      return stock?.success && !stock.cached && answer;
    },
    { what: 'a chat whose stock call succeeds', timeoutMs: 60_000, intervalMs: 250 },
  );
  expect(res.reply).toContain('202604100042');
}, 120_000);

test('SIGTERM stops every process: nothing listens afterwards', async () => {
  expect(await launcher.stop()).toBe(0);
  const stillOpen = [];
  for (const n of launcherPortNames) if (await isOpen(launcher.ports[n])) stillOpen.push(n);
  expect(stillOpen).toEqual([]);
}, 30_000);
