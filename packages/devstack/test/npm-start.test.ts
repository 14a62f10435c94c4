// `npm start` as a newcomer runs it: embedded PGlite, scripted model, every service
// its own process; SIGTERM stops all of them.

import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Code, type ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ChatService } from '@toolmesh/proto';
import { freePort } from '@toolmesh/testkit';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const names = [
  'GATEWAY',
  'ORCHESTRATOR',
  'ORDER',
  'INVENTORY',
  'DISPATCH',
  'TICKET',
  'MODEL',
  'EMBEDDED_DB',
] as const;
let ports: Record<(typeof names)[number], number>;
let launcher: ChildProcess;
let output = '';

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
  ports = Object.fromEntries(
    await Promise.all(names.map(async (n) => [n, await freePort()])),
  ) as typeof ports;
  const env: NodeJS.ProcessEnv = { ...process.env, TOOLMESH_QUIET: '1' };
  for (const n of ['DATABASE_URL', 'OPENAI_BASE_URL', 'OPENAI_API_KEY', 'TOOLMESH_MODEL']) delete env[n];
  for (const n of names) env[`TOOLMESH_${n}_PORT`] = String(ports[n]);
  // Free /metrics ports too: the dev defaults (9400, …) may be taken by a running `npm start`.
  for (const n of names.slice(0, 6)) env[`TOOLMESH_${n}_METRICS_PORT`] = String(await freePort());
  launcher = spawn(process.execPath, ['packages/devstack/src/main.ts'], { cwd: root, env });
  launcher.stdout?.on('data', (d) => {
    output += String(d);
  });
  launcher.stderr?.on('data', (d) => {
    output += String(d);
  });
  const deadline = Date.now() + 90_000;
  while (!output.includes('toolmesh is up')) {
    if (launcher.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start not up after 90 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 120_000);

afterAll(() => {
  if (launcher?.exitCode === null) launcher.kill('SIGKILL');
});

test('prints where everything listens and a ready-to-paste grpcurl command', () => {
  expect(output).toContain(`127.0.0.1:${ports.GATEWAY}`);
  expect(output).toContain('toolmesh.v1.ChatService/Chat');
  expect(output).toContain("-H 'authorization: Bearer dev-key-u1001'");
});

test('the seed question is answered on the embedded defaults', async () => {
  const client = createClient(
    ChatService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${ports.GATEWAY}`, defaultTimeoutMs: 30_000 }),
  );
  const res = await client.chat(
    { message: 'Where is my order 202604100018? I also need an invoice for it.' },
    { headers: { authorization: 'Bearer dev-key-u1001' } },
  );
  expect(res.reply).toContain('shipped');
  expect(res.toolExecutions.find((e) => e.toolName === 'get_order_detail')?.success).toBe(true);
  const unauthenticated = await client.chat({ message: 'hi' }).catch((e: unknown) => e);
  expect((unauthenticated as ConnectError).code).toBe(Code.Unauthenticated);
});

test('SIGTERM stops every process: nothing listens afterwards', async () => {
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  launcher.kill('SIGTERM');
  expect(await exited).toBe(0);
  const stillOpen = [];
  for (const n of names) if (await isOpen(ports[n])) stillOpen.push(n);
  expect(stillOpen).toEqual([]);
}, 30_000);
