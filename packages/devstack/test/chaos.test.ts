// Chaos against real processes on 127.0.0.1, bounded in time: a replica killed
// under load, a tool that stops answering (breaker opens, fails fast, recovers).
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { BreakerState, ChatService, RegistryService } from '@toolmesh/proto';
import { createServer, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import {
  type CannedAnswer,
  type CannedModel,
  type CannedRequest,
  createFigureLog,
  createTestDatabase,
  type DelayProxy,
  freePort,
  startCannedModel,
  startDelayProxy,
  type TestDatabase,
} from '@toolmesh/testkit';
import { createToolService, defineTool } from '@toolmesh/tool-sdk';
import { z } from 'zod';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

// TOOLMESH_FIGURES=<file> collects the measured figures for docs/reliability.md.
const figure = createFigureLog(process.env.TOOLMESH_FIGURES);
const silent = createLogger({ service: 'lab', level: 'silent' });
const labTools = [
  defineTool({
    name: 'ping_lab',
    description: 'Answers pong.',
    input: z.strictObject({}),
    metadata: { sideEffect: 'read', permission: 'order:read', timeoutMs: 300 },
    handler: async () => ({ pong: true }),
  }),
  defineTool({
    name: 'slow_lab',
    description: 'Takes its time, unless cancelled.',
    input: z.strictObject({}),
    metadata: { sideEffect: 'read', permission: 'order:read', timeoutMs: 10_000 },
    handler: (_input, { signal }) =>
      new Promise((resolve, reject) => {
        slowLab.started++;
        const timer = setTimeout(() => resolve({ done: true }), 8_000);
        signal.addEventListener('abort', () => {
          slowLab.cancelled++;
          clearTimeout(timer);
          reject(signal.reason);
        });
      }),
  }),
];
// What the slow tool saw: started calls and those cancelled from the caller's side.
const slowLab = { started: 0, cancelled: 0 };

// Model faults by message text: how many failures are left for each.
const modelFaults = new Map<string, number>();

function respond(request: CannedRequest): CannedAnswer {
  const lastUser = request.messages.map((m) => m.role).lastIndexOf('user');
  const text = String(request.messages[lastUser]?.content ?? '');
  if (text === 'model down') return { status: 503 };
  if (text === 'model hangs') return { delayMs: 5_000, content: 'too late' };
  const left = modelFaults.get(text) ?? 0;
  if (left > 0) {
    modelFaults.set(text, left - 1);
    return text.startsWith('busy') ? { status: 429, retryAfterMs: 400 } : { status: 500 };
  }
  const step = request.messages.slice(lastUser).filter((m) => m.role === 'assistant').length;
  if (step > 0) return { content: 'done' };
  if (text.includes('ping')) return { toolCalls: [{ name: 'ping_lab', arguments: '{}' }] };
  if (text === 'slow tool') return { toolCalls: [{ name: 'slow_lab', arguments: '{}' }] };
  return { toolCalls: [{ name: 'get_order_detail', arguments: '{"order_id":"202604100018"}' }] };
}

let db: TestDatabase;
let model: CannedModel;
let lab: Server;
let proxy: DelayProxy;
let mesh: Mesh;

beforeAll(async () => {
  db = await createTestDatabase();
  model = await startCannedModel(respond);
  lab = createServer({ logger: silent, services: [createToolService({ logger: silent, tools: labTools })] });
  const labPort = await lab.listen(0);
  lab.health.setAll(true);
  proxy = await startDelayProxy(`127.0.0.1:${labPort}`);
  const ports = await freeMeshPorts();
  mesh = await startMesh({
    ports,
    replicas: { order: [await freePort()] },
    databaseUrl: db.url,
    model: { baseUrl: model.baseUrl },
    extraToolServices: [proxy.address],
    env: { LOG_LEVEL: 'error' },
    serviceEnv: {
      orchestrator: {
        BREAKER_FAILURE_THRESHOLD: '3',
        BREAKER_HALF_OPEN_MS: '1000',
        MODEL_TIMEOUT_MS: '700',
        // Every read reaches a replica: none is answered from the cache.
        READ_CACHE: 'off',
        TOOL_RATE_PER_SEC: '1000',
        TOOL_RATE_BURST: '1000',
        MODEL_BREAKER_FAILURE_THRESHOLD: '3',
        MODEL_BREAKER_HALF_OPEN_MS: '1500',
      },
      gateway: { CHAT_RATE_PER_SEC: '1000', CHAT_RATE_BURST: '1000' },
    },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await proxy?.close();
  await lab?.shutdown(1_000);
  await model?.close();
  await db?.drop();
}, 60_000);

const chat = () => createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));

test('kill -9 one of two order replicas under load: every read chat still succeeds', async () => {
  const client = chat();
  let killed = false;
  let retried = 0;
  const outcomes: string[] = [];
  const worker = async () => {
    for (let i = 0; i < 15; i++) {
      if (outcomes.length >= 12 && !killed) {
        killed = true;
        await mesh.kill('order#2');
      }
      const res = await client.chat({ message: 'where is my order?' }).catch((e: Error) => e);
      outcomes.push(
        res instanceof Error
          ? `rpc:${res.message}`
          : res.toolExecutions[0]?.success
            ? 'true'
            : `failed:${res.toolExecutions[0]?.errorCode}:${res.toolExecutions[0]?.errorMessage}`,
      );
      if (!(res instanceof Error) && (res.toolExecutions[0]?.attempts ?? 0) > 1) retried++;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  expect(killed).toBe(true);
  expect(outcomes).toHaveLength(60);
  expect(outcomes.filter((o) => o !== 'true')).toEqual([]);
  figure('kill -9 one of two replicas: read chats ok', `${outcomes.filter((o) => o === 'true').length}/60`);
  // Calls that met the dead replica went to the live one, and say so.
  expect(retried).toBeGreaterThan(0);
  figure('kill -9 one of two replicas: tool calls retried on the other replica', retried);
}, 60_000);

test('a tool that stops answering: timeouts, then the breaker opens and fails fast, then recovers', async () => {
  const client = chat();
  expect((await client.chat({ message: 'ping' })).toolExecutions[0]?.success).toBe(true);
  proxy.responseDelayMs = 3_000;
  const failures = [];
  for (let i = 0; i < 3; i++) failures.push((await client.chat({ message: 'ping' })).toolExecutions[0]);
  expect(failures.map((e) => e?.errorCode)).toEqual(['TIMEOUT', 'TIMEOUT', 'TIMEOUT']);
  // Open: answered at once, with when to retry.
  const started = Date.now();
  const fast = (await client.chat({ message: 'ping' })).toolExecutions[0];
  expect(Date.now() - started).toBeLessThan(500);
  figure('open tool breaker: whole chat answered in', Date.now() - started, 'ms');
  expect(fast).toMatchObject({ success: false, errorCode: 'UNAVAILABLE' });
  expect(fast?.errorMessage).toMatch(/retry after \d+ s/);
  // Operators see the open breaker in the registry view.
  const view = await createClient(
    RegistryService,
    gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'),
  ).listRegisteredTools({});
  const lab = view.endpoints.find((e) => e.address === proxy.address);
  expect(lab?.breakerState).toBe(BreakerState.OPEN);
  expect(Number(lab?.retryAfter?.nanos ?? 0) + Number(lab?.retryAfter?.seconds ?? 0)).toBeGreaterThan(0);
  expect(view.tools.find((t) => t.definition?.name === 'ping_lab')?.available).toBe(false);
  // The tool is healthy again (once the connection has drained the late answers);
  // after the half-open delay one trial call closes the breaker.
  proxy.responseDelayMs = 0;
  await new Promise((r) => setTimeout(r, 3_200));
  const trial = (await client.chat({ message: 'ping' })).toolExecutions[0];
  expect([trial?.success, trial?.errorCode, trial?.errorMessage]).toEqual([true, '', '']);
  expect((await client.chat({ message: 'ping' })).toolExecutions[0]?.success).toBe(true);
}, 60_000);

test('the model answering 500 or 429 is retried (honouring Retry-After); a model that stays down is UNAVAILABLE', async () => {
  const client = chat();
  modelFaults.set('flaky model', 2);
  expect((await client.chat({ message: 'flaky model' })).toolExecutions[0]?.success).toBe(true);
  modelFaults.set('busy model', 1);
  const started = Date.now();
  expect((await client.chat({ message: 'busy model' })).toolExecutions[0]?.success).toBe(true);
  expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  figure('model 429 with retry-after-ms 400: chat done in', Date.now() - started, 'ms');
  const down = await client.chat({ message: 'model down' }).catch((e: { code: number }) => e);
  expect(down).toMatchObject({ code: Code.Unavailable });
}, 60_000);

test('a model that hangs: each attempt times out, is retried, then the caller gets a clear UNAVAILABLE', async () => {
  const client = chat();
  const before = model.requests.length;
  const started = Date.now();
  const hung = await client.chat({ message: 'model hangs' }).catch((e: ConnectError) => e);
  expect(hung).toBeInstanceOf(ConnectError);
  expect(hung).toMatchObject({ code: Code.Unavailable, rawMessage: 'the model is unavailable, retry later' });
  // MODEL_TIMEOUT_MS=700 and two retries by the openai SDK: three attempts, then the answer.
  expect(model.requests.length - before).toBe(3);
  expect(Date.now() - started).toBeLessThan(5_000);
  figure('hung model (3 attempts x 700 ms): UNAVAILABLE after', Date.now() - started, 'ms');
}, 30_000);

test('a caller that gives up cancels the in-flight tool call and the model call behind it', async () => {
  const client = chat();
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 600);
  const cancelled = await client.chat({ message: 'slow tool' }, { signal: abort.signal }).catch((e) => e);
  expect(cancelled).toMatchObject({ code: Code.Canceled });
  // The cancellation crosses gateway → orchestrator → tool service within a moment.
  const deadline = Date.now() + 2_000;
  while (slowLab.cancelled < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  figure(
    'cancelled chat: tool handler aborted after the caller gave up within',
    Date.now() - deadline + 2_000,
    'ms',
  );
  expect(slowLab).toEqual({ started: 1, cancelled: 1 });

  // The caller's deadline travels the same way: a hung model is abandoned when it passes.
  const started = Date.now();
  const late = await client.chat({ message: 'model hangs' }, { timeoutMs: 400 }).catch((e) => e);
  expect(late).toMatchObject({ code: Code.DeadlineExceeded });
  expect(Date.now() - started).toBeLessThan(1_500);
  figure('caller deadline 400 ms on a hung model: DEADLINE_EXCEEDED after', Date.now() - started, 'ms');
}, 30_000);

test('a model that stays down opens its breaker: chats fail at once with retry-after, then recover', async () => {
  const client = chat();
  const failures = [];
  for (let i = 0; i < 3; i++) failures.push(await client.chat({ message: 'model down' }).catch((e) => e));
  expect(failures.map((f) => f.code)).toEqual([Code.Unavailable, Code.Unavailable, Code.Unavailable]);
  const before = model.requests.length;
  const started = Date.now();
  const fast = await client.chat({ message: 'where is my order?' }).catch((e) => e);
  expect(Date.now() - started).toBeLessThan(200);
  figure('open model breaker: chat refused in', Date.now() - started, 'ms');
  expect(fast).toMatchObject({ code: Code.Unavailable });
  expect(fast.rawMessage).toMatch(/^the model is unavailable, retry after \d+ s$/);
  expect(model.requests.length).toBe(before);
  await new Promise((r) => setTimeout(r, 1_600));
  expect((await client.chat({ message: 'where is my order?' })).toolExecutions[0]?.success).toBe(true);
}, 60_000);
