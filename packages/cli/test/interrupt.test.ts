// Ctrl-C and a gateway that never answers, without a mesh: a TCP server that accepts and stays silent.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { binPath, cliEnv } from './run-toolmesh.ts';

let silent: net.Server;
const sockets = new Set<net.Socket>();
let port: number;
// Resolves at the next connection: the CLI is loaded and its call is waiting.
let connected: Promise<void>;
let onConnection = () => {};
const expectConnection = () => {
  connected = new Promise((resolve) => {
    onConnection = resolve;
  });
};

beforeAll(async () => {
  silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.resume();
    onConnection();
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  port = (silent.address() as net.AddressInfo).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

test('Ctrl-C cancels the call in flight and exits 130', async () => {
  expectConnection();
  const child = spawn(process.execPath, [binPath, '--gateway', `127.0.0.1:${port}`, 'chat', 'hello'], {
    env: cliEnv(),
    stdio: 'pipe',
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  await connected;
  child.kill('SIGINT');
  const code = await new Promise((resolve) => child.once('close', resolve));
  expect(code).toBe(130);
  expect(output).toContain('cancelled');
});

test('--timeout bounds a call: DEADLINE_EXCEEDED with a hint', async () => {
  const child = spawn(
    process.execPath,
    [binPath, '--gateway', `127.0.0.1:${port}`, '--timeout', '0.5', 'tools'],
    {
      env: cliEnv(),
      stdio: 'pipe',
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise((resolve) => child.once('close', resolve));
  expect(code).toBe(1);
  expect(stderr).toContain('error: DEADLINE_EXCEEDED');
  expect(stderr).toContain('hint: raise the deadline with --timeout');
});
