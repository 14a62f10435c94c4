// MCP servers as tool services, against real processes: the reference MCP server
// (@modelcontextprotocol/server-everything), which nobody here wrote, runs once over streamable
// HTTP (started by this test) and once over stdio (started by the bridge). Their tools show in the
// registry under `<server>_<tool>`; a chat runs echo over HTTP and get-sum over stdio; bad arguments
// are refused before any MCP call; a dead HTTP server fails calls UNAVAILABLE and comes back; a
// killed stdio server is restarted; a tool without readOnlyHint waits for approval.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { ChatService, RegistryService, StopReason } from '@toolmesh/proto';
import {
  type CannedModel,
  type CannedRequest,
  createTestDatabase,
  freePort,
  startCannedModel,
  type TestDatabase,
  waitFor,
} from '@toolmesh/testkit';
import { freeMeshPorts, type Mesh, startMesh, waitForPort } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

const require = createRequire(import.meta.url);
// The package's bin (dist/index.js), found from its manifest: `node dist/index.js stdio|streamableHttp`.
const everything = join(
  dirname(
    require.resolve('@modelcontextprotocol/server-everything/package.json', {
      paths: [join(import.meta.dirname, '../../../services/mcp-bridge')],
    }),
  ),
  'dist/index.js',
);

let dir: string;
let db: TestDatabase;
let model: CannedModel;
let mesh: Mesh;
let httpPort: number;
let httpServer: ChildProcess | undefined;
const bridgeLines: string[] = [];

async function startHttpServer() {
  httpServer = spawn(process.execPath, [everything, 'streamableHttp'], {
    env: { ...process.env, PORT: String(httpPort) },
    stdio: 'ignore',
  });
  await waitForPort('127.0.0.1', httpPort, 30_000, AbortSignal.timeout(30_000));
}

async function stopHttpServer() {
  const proc = httpServer;
  httpServer = undefined;
  if (!proc || proc.exitCode !== null) return;
  const gone = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGKILL');
  await gone;
}

// The model: a user message that is a JSON list of tool calls is answered with those calls;
// once tool results came back, the reply quotes them.
function respond(request: CannedRequest) {
  const last = request.messages.at(-1);
  if (last?.role === 'tool') {
    const results = request.messages.filter((m) => m.role === 'tool').map((m) => m.content ?? '');
    return { content: `results: ${results.join(' | ')}` };
  }
  const calls = JSON.parse(last?.content ?? '[]') as { name: string; arguments: unknown }[];
  return {
    toolCalls: calls.map((c, i) => ({
      id: `call_${i}`,
      name: c.name,
      arguments: JSON.stringify(c.arguments),
    })),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolmesh-mcp-'));
  httpPort = await freePort();
  await startHttpServer();
  const file = join(dir, 'mcp-servers.yaml');
  await writeFile(
    file,
    `servers:
  - name: mcphttp
    url: http://127.0.0.1:${httpPort}/mcp
    permission: ticket:read
    tools:
      toggle-simulated-logging: { permission: ticket:write }
  - name: mcpstdio
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(everything)}, stdio]
    permission: ticket:read
`,
  );
  db = await createTestDatabase();
  model = await startCannedModel(respond);
  mesh = await startMesh({
    ports: await freeMeshPorts(),
    databaseUrl: db.url,
    model: { baseUrl: model.baseUrl },
    mcpServersFile: file,
    env: { LOG_LEVEL: 'warn' },
    serviceEnv: {
      'mcp-bridge': { LOG_LEVEL: 'info', MCP_MAX_BACKOFF_MS: '1000' },
      // New tools reach the orchestrator within a second instead of the default 30 s.
      orchestrator: { TOOL_REFRESH_MS: '1000' },
    },
    onLine: (service, line) => {
      if (service === 'mcp-bridge') bridgeLines.push(line);
    },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await stopHttpServer();
  await model?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

const chat = () => createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));
const run = (calls: { name: string; arguments: unknown }[]) =>
  chat().chat({ message: JSON.stringify(calls) });
const echo = { name: 'mcphttp_echo', arguments: { message: 'hello' } };
const sum = { name: 'mcpstdio_get-sum', arguments: { a: 2, b: 3 } };
const succeeds = (call: { name: string; arguments: unknown }) => async () => {
  const res = await run([call]);
  return res.toolExecutions[0]?.success ? res : undefined;
};

const registry = () =>
  createClient(RegistryService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-operator'));

test("both servers' tools are in the registry, named after the server and the MCP tool", async () => {
  const view = await registry().listRegisteredTools({});
  const names = view.tools.map((t) => t.definition?.name ?? '');
  for (const server of ['mcphttp', 'mcpstdio'])
    for (const tool of ['echo', 'get-sum', 'toggle-simulated-logging'])
      expect(names).toContain(`${server}_${tool}`);
  const echoTool = view.tools.find((t) => t.definition?.name === 'mcphttp_echo');
  expect(echoTool?.addresses).toEqual([`127.0.0.1:${mesh.ports.mcpBridge}`]);
  expect(echoTool?.definition?.description).toContain('"echo"');
  expect(echoTool?.definition?.description).toContain('"mcphttp"');
  expect(JSON.parse(echoTool?.definition?.inputSchemaJson ?? '{}')).toMatchObject({
    type: 'object',
    properties: { message: { type: 'string' } },
  });
});

test('a server that announces a changed tool list is re-listed, and the new tool reaches the registry', async () => {
  // The reference server registers simulate-research-query only after the client's
  // initialized notification and announces it with notifications/tools/list_changed. Over
  // stdio the bridge hears it; over HTTP the announcement goes out before the client's
  // notification stream is open, so the server drops it (its tool is in the first listing).
  const relisted = async () => {
    const text = await (await fetch(mesh.metricsUrls['mcp-bridge'] ?? '')).text();
    return /mcp_bridge_tool_listings_total\{mcp_server="mcpstdio",reason="list_changed"\} [1-9]/.test(text);
  };
  await waitFor(relisted, { what: 'the stdio server to announce a changed tool list' });
  const names = (await registry().listRegisteredTools({})).tools.map((t) => t.definition?.name);
  expect(names).toContain('mcphttp_simulate-research-query');
  expect(names).toContain('mcpstdio_simulate-research-query');
});

test('a chat runs echo over HTTP and get-sum over stdio, and the results reach the reply', async () => {
  const res = await run([echo, sum]);
  expect(res.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([
    ['mcphttp_echo', true],
    ['mcpstdio_get-sum', true],
  ]);
  expect(res.reply).toContain('Echo: hello');
  expect(res.reply).toContain('The sum of 2 and 3 is 5');
});

test('arguments that break the MCP inputSchema are refused with INVALID_ARGUMENT, without calling the server', async () => {
  const res = await run([{ name: 'mcpstdio_get-sum', arguments: { a: 'two', b: 3 } }]);
  const [execution] = res.toolExecutions;
  expect(execution).toMatchObject({ success: false, errorCode: 'INVALID_ARGUMENT', attempts: 0 });
  expect(execution?.errorMessage).toContain('a');
  expect(execution?.errorMessage).not.toContain('two');
});

test('a tool without readOnlyHint is a write: it waits for approval and does not run', async () => {
  const res = await run([{ name: 'mcphttp_toggle-simulated-logging', arguments: {} }]);
  expect(res.stopReason).toBe(StopReason.AWAITING_CONFIRMATION);
  expect(res.pendingActions.map((a) => a.toolName)).toEqual(['mcphttp_toggle-simulated-logging']);
  expect(res.toolExecutions).toHaveLength(0);
});

test('a dead HTTP server fails calls UNAVAILABLE; once it is back, calls work again', async () => {
  await stopHttpServer();
  const down = await run([echo]);
  expect(down.toolExecutions[0]).toMatchObject({ success: false, errorCode: 'UNAVAILABLE' });
  await startHttpServer();
  const back = await waitFor(succeeds(echo), { what: 'echo over HTTP to work again', intervalMs: 250 });
  expect(back.reply).toContain('Echo: hello');
}, 60_000);

test('a stdio server whose process dies is restarted and its tools work again', async () => {
  const pids = () =>
    bridgeLines
      .filter((l) => l.includes('MCP server process started') && l.includes('mcpstdio'))
      .map((l) => Number(/"pid":(\d+)/.exec(l)?.[1]));
  const [pid] = pids();
  expect(pid).toBeGreaterThan(0);
  process.kill(pid as number, 'SIGKILL');
  await waitFor(() => pids().length >= 2, { what: 'the stdio server to be restarted' });
  const back = await waitFor(succeeds(sum), { what: 'get-sum over stdio to work again', intervalMs: 250 });
  expect(back.reply).toContain('The sum of 2 and 3 is 5');
}, 60_000);
