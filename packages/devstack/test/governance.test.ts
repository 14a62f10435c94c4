// Governance against real processes: the model only suggests, the mesh validates,
// authorizes, bounds and orders. The model is scripted per case (the only fake);
// a real extra tool service with slow/large/sensitive tools runs in this process.

import { toJsonString } from '@bufbuild/protobuf';
import { Code, createClient } from '@connectrpc/connect';
import { ChatService, ChatStreamResponseSchema, StopReason } from '@toolmesh/proto';
import type { Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import {
  type CannedAnswer,
  type CannedModel,
  type CannedRequest,
  createBarrier,
  createTestDatabase,
  startCannedModel,
  type TestDatabase,
  waitFor,
} from '@toolmesh/testkit';
import { createToolServer, defineTool } from '@toolmesh/tool-sdk';
import { z } from 'zod';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';
import { createMeshKeyDir, type MeshKeyDir } from './mesh-key-dir.ts';

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });

// What the lab tools saw: calls aborted (by tag), and the most single_slot calls at once.
const seen = {
  aborted: new Set<string>(),
  singleSlotRunning: 0,
  singleSlotMostAtOnce: 0,
  rendezvousFailures: [] as string[],
};
// Calls of the rendezvous tool meet here, one barrier per group of side-by-side calls.
const barriers = new Map<string, ReturnType<typeof createBarrier>>();

// A real tool service a test team could have written.
const labTools = [
  defineTool({
    name: 'slow_lookup',
    description: 'Waits ms milliseconds, then answers.',
    input: z.strictObject({ ms: z.number().int().min(0).max(10_000), tag: z.string().max(10).optional() }),
    metadata: { sideEffect: 'read', permission: 'order:read', timeoutMs: 1_000 },
    handler: async (args, ctx) => {
      ctx.signal.addEventListener('abort', () => seen.aborted.add(args.tag ?? ''), { once: true });
      await sleep(args.ms, ctx.signal);
      return { waited: args.ms, tag: args.tag ?? null };
    },
  }),
  defineTool({
    name: 'rendezvous',
    description: 'Answers once all calls of its group are running.',
    input: z.strictObject({
      group: z.string().max(20),
      size: z.number().int().min(1).max(8),
      tag: z.string().max(10),
    }),
    metadata: { sideEffect: 'read', permission: 'order:read', timeoutMs: 30_000 },
    handler: async (args, ctx) => {
      let barrier = barriers.get(args.group);
      if (!barrier) {
        // Calls run in a row would leave the first waiting alone: it gives up and fails the case.
        barrier = createBarrier(args.size, { what: `rendezvous ${args.group}`, timeoutMs: 15_000 });
        barriers.set(args.group, barrier);
      }
      await barrier.arrive(ctx.signal).catch((error: Error) => {
        seen.rendezvousFailures.push(`${args.tag}: ${error.message}`);
        throw error;
      });
      return { tag: args.tag, met: args.size };
    },
  }),
  defineTool({
    name: 'big_report',
    description: 'A large report.',
    input: z.strictObject({}),
    metadata: { sideEffect: 'read', permission: 'order:read', maxOutputChars: 400, summaryFields: ['title'] },
    handler: async () => ({ title: 'Quarterly report', body: 'x'.repeat(20_000) }),
  }),
  defineTool({
    name: 'lookup_contact',
    description: 'Finds a contact by phone number.',
    input: z.strictObject({ phone: z.string().max(32) }),
    metadata: { sideEffect: 'read', permission: 'order:read', sensitiveFields: ['phone'] },
    handler: async () => ({ found: false }),
  }),
  defineTool({
    name: 'single_slot',
    description: 'Serves one call at a time per replica.',
    input: z.strictObject({ n: z.number().int() }),
    metadata: { sideEffect: 'read', permission: 'order:read', maxConcurrency: 1, timeoutMs: 3_000 },
    handler: async (args, ctx) => {
      seen.singleSlotRunning++;
      seen.singleSlotMostAtOnce = Math.max(seen.singleSlotMostAtOnce, seen.singleSlotRunning);
      try {
        // Work long enough that calls not held back by the orchestrator would overlap here.
        await sleep(150, ctx.signal);
      } finally {
        seen.singleSlotRunning--;
      }
      return { n: args.n };
    },
  }),
];

type Script = (step: number, request: CannedRequest) => CannedAnswer;
const call = (name: string, args: unknown, id?: string) => ({
  id,
  name,
  arguments: typeof args === 'string' ? args : JSON.stringify(args),
});
const lastToolContents = (r: CannedRequest) => {
  const lastAssistant = r.messages.map((m) => m.role).lastIndexOf('assistant');
  return r.messages.slice(lastAssistant + 1).filter((m) => m.role === 'tool');
};
// Ends the turn by reading back what the tools said.
const echo: Script = (_step, r) => ({
  content: `seen: ${lastToolContents(r)
    .map((m) => m.content)
    .join(' | ')}`,
});

const scripts: Record<string, Script> = {
  'unknown-tool': (step, r) => (step === 0 ? { toolCalls: [call('drop_all_tables', {})] } : echo(step, r)),
  'broken-json': (step, r) =>
    step === 0 ? { toolCalls: [call('get_order_detail', '{"order_id": "2026')] } : echo(step, r),
  'schema-violation': (step, r) =>
    step === 0
      ? { toolCalls: [call('get_order_detail', { order_id: 202604100018, sql: 'DROP' })] }
      : echo(step, r),
  'forbidden-write': (step, r) =>
    step === 0
      ? {
          toolCalls: [
            call('create_ticket', { order_id: '202604100018', category: 'invoice', description: 'please' }),
          ],
        }
      : echo(step, r),
  endless: () => ({ toolCalls: [call('get_order_detail', { order_id: '202604100018' })] }),
  'too-many': (step, r) =>
    step === 0
      ? {
          toolCalls: Array.from({ length: 12 }, (_, i) =>
            call('get_inventory_snapshot', { skus: [`SKU-${1000 + i}`] }),
          ),
        }
      : echo(step, r),
  'huge-arguments': (step, r) =>
    step === 0
      ? { toolCalls: [call('get_inventory_snapshot', { skus: ['A'], pad: 'p'.repeat(40_000) })] }
      : echo(step, r),
  timeout: (step, r) =>
    step === 0 ? { toolCalls: [call('slow_lookup', { ms: 10_000, tag: 'hung' })] } : echo(step, r),
  'big-output': (step, r) => (step === 0 ? { toolCalls: [call('big_report', {})] } : echo(step, r)),
  sensitive: (step, r) =>
    step === 0 ? { toolCalls: [call('lookup_contact', { phone: '+86 138 0013 8000' })] } : echo(step, r),
  parallel: (step, r) =>
    step === 0
      ? {
          toolCalls: [
            // p1 and p3 finish only once both are running; p2 answers at once.
            call('rendezvous', { group: 'parallel', size: 2, tag: 'first' }, 'p1'),
            call('slow_lookup', { ms: 0, tag: 'second' }, 'p2'),
            call('rendezvous', { group: 'parallel', size: 2, tag: 'third' }, 'p3'),
          ],
        }
      : echo(step, r),
  'tool-rate': (step, r) =>
    step < 2
      ? {
          toolCalls: Array.from({ length: 6 }, (_, i) =>
            call('get_dispatch_plan', { order_id: `20260410004${i}` }),
          ),
        }
      : echo(step, r),
  // Some models number their calls per response: the same id comes back every turn.
  'same-ids': (step, r) =>
    step === 0
      ? { toolCalls: [call('big_report', {}, 'call_0'), call('big_report', {}, 'call_0')] }
      : echo(step, r),
  'concurrency-cap': (step, r) =>
    step === 0 ? { toolCalls: [1, 2, 3].map((n) => call('single_slot', { n })) } : echo(step, r),
};

function respond(request: CannedRequest): CannedAnswer {
  const users = request.messages.filter((m) => m.role === 'user');
  const text = String(users.at(-1)?.content ?? '');
  const name = /case:([\w-]+)/.exec(text)?.[1] ?? '';
  const lastUser = request.messages.map((m) => m.role).lastIndexOf('user');
  const step = request.messages.slice(lastUser).filter((m) => m.role === 'assistant').length;
  const script = scripts[name];
  if (request.tool_choice === 'none' || !script) return { content: `final answer for ${name}` };
  return script(step, request);
}

let keys: MeshKeyDir;
let db: TestDatabase;
let model: CannedModel;
let lab: Server;
let mesh: Mesh;

beforeAll(async () => {
  db = await createTestDatabase();
  model = await startCannedModel(respond);
  // The lab tool service verifies the mesh's credentials like any tool service.
  keys = await createMeshKeyDir();
  lab = createToolServer({
    logger: createLogger({ service: 'lab', level: 'silent' }),
    tools: labTools,
    meshKeys: keys.keys,
  });
  const labPort = await lab.listen(0);
  lab.health.setAll(true);
  const ports = await freeMeshPorts();
  mesh = await startMesh({
    ports,
    databaseUrl: db.url,
    model: { baseUrl: model.baseUrl },
    extraToolServices: [`127.0.0.1:${labPort}`],
    meshKeys: keys.files,
    env: { LOG_LEVEL: 'warn' },
    serviceEnv: {
      orchestrator: {
        MAX_ROUNDS: '3',
        MAX_TOOL_CALLS_PER_ROUND: '8',
        // Refills so slowly (one call per 100 s) that only the burst counts, however long a case takes.
        TOOL_RATE_PER_SEC: '0.01',
        TOOL_RATE_BURST: '8',
      },
      gateway: { CHAT_RATE_PER_SEC: '0.01', CHAT_RATE_BURST: '40' },
    },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await lab?.shutdown(1_000);
  await model?.close();
  await db?.drop();
  await keys?.remove();
}, 60_000);

const client = (key = 'dev-key-u1001') =>
  createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, key));

// Runs one case and returns the response plus the model request that followed the tools.
async function runCase(name: string, key?: string) {
  const before = model.requests.length;
  const response = await client(key).chat({ message: `case:${name}` });
  const requests = model.requests.slice(before);
  return { response, requests, followUp: requests[1] };
}

// Every tool call of the transcript has exactly one tool message, right after its assistant message.
function expectOneResultPerCall(request: CannedRequest | undefined) {
  const messages = request?.messages ?? [];
  for (const [i, m] of messages.entries()) {
    if (m.role !== 'assistant' || !m.tool_calls?.length) continue;
    const ids = (m.tool_calls as { id: string }[]).map((c) => c.id);
    const results = messages
      .slice(i + 1, i + 1 + ids.length)
      .map((r) => (r.role === 'tool' ? r.tool_call_id : '-'));
    expect(results).toEqual(ids);
  }
}

test('an unknown tool becomes a failed execution the model can read, not a crash', async () => {
  const { response, followUp } = await runCase('unknown-tool');
  expect(response.toolExecutions.map((e) => [e.toolName, e.success, e.errorCode])).toEqual([
    ['drop_all_tables', false, 'INVALID_ARGUMENT'],
  ]);
  expect(lastToolContents(followUp as CannedRequest)[0]?.content).toContain('unknown tool');
  expect(response.reply).toContain('unknown tool');
  expectOneResultPerCall(followUp);
});

test('broken JSON and schema violations are refused before the tool service is called', async () => {
  const broken = await runCase('broken-json');
  expect(broken.response.toolExecutions[0]).toMatchObject({ success: false, errorCode: 'INVALID_ARGUMENT' });
  expect(broken.response.toolExecutions[0]?.errorMessage).toBe('arguments are not valid JSON');
  const schema = await runCase('schema-violation');
  const message = schema.response.toolExecutions[0]?.errorMessage ?? '';
  // ajv's wording: the orchestrator refused it; the tool service (zod) never saw it.
  expect(message).toContain('arguments do not match the schema');
  expect(message).toContain('/order_id must be string');
  expect(message).not.toContain('DROP');
});

test('a tool the user may not run is not offered, and calling it anyway is refused', async () => {
  const { response, requests } = await runCase('forbidden-write', 'dev-key-readonly');
  expect(requests[0]?.tools?.map((t) => t.function.name)).not.toContain('create_ticket');
  expect(response.toolExecutions[0]).toMatchObject({
    toolName: 'create_ticket',
    errorCode: 'PERMISSION_DENIED',
  });
  expect(response.pendingActions).toHaveLength(0);
});

test('the round limit ends with one last answer without tools', async () => {
  const { response, requests } = await runCase('endless');
  expect(response.stopReason).toBe(StopReason.ROUND_LIMIT);
  expect(response.toolExecutions).toHaveLength(3);
  expect(requests).toHaveLength(4);
  expect(requests.at(-1)?.tool_choice).toBe('none');
  expect(response.reply).toBe('final answer for endless');
});

test('calls beyond the per-round limit fail, each still with its one result', async () => {
  const { response, followUp } = await runCase('too-many');
  expect(response.toolExecutions).toHaveLength(12);
  const refused = response.toolExecutions.filter((e) => e.errorMessage.startsWith('too many tool calls'));
  expect(refused).toHaveLength(4);
  expect(response.toolExecutions.slice(0, 8).every((e) => e.success)).toBe(true);
  expectOneResultPerCall(followUp);
});

test('oversized arguments are refused', async () => {
  const { response } = await runCase('huge-arguments');
  expect(response.toolExecutions[0]?.errorMessage).toMatch(/arguments exceed \d+ bytes/);
});

test('a hung tool times out with TIMEOUT instead of hanging the chat, and the tool is stopped', async () => {
  const { response } = await runCase('timeout');
  expect(response.toolExecutions[0]).toMatchObject({
    toolName: 'slow_lookup',
    success: false,
    errorCode: 'TIMEOUT',
  });
  // The 10 s call was aborted at its 1 s timeout, not left running.
  await waitFor(() => seen.aborted.has('hung'), { what: 'the hung tool call to be aborted' });
});

test('a large result is cut to its output budget, keeping its summary fields', async () => {
  const { followUp } = await runCase('big-output');
  const content = lastToolContents(followUp as CannedRequest)[0]?.content ?? '';
  expect(content.length).toBeLessThanOrEqual(400);
  expect(JSON.parse(content)).toMatchObject({ title: 'Quarterly report' });
});

test('parallel-safe calls run concurrently; results come back in call order', async () => {
  const { response, followUp } = await runCase('parallel');
  // p1 and p3 each finished only because the other was running at the same time.
  expect(seen.rendezvousFailures).toEqual([]);
  expect(response.toolExecutions.map((e) => [e.toolCallId, e.success, e.errorMessage])).toEqual([
    ['p1', true, ''],
    ['p2', true, ''],
    ['p3', true, ''],
  ]);
  expect(lastToolContents(followUp as CannedRequest).map((m) => JSON.parse(m.content ?? '{}').tag)).toEqual([
    'first',
    'second',
    'third',
  ]);
  expect(lastToolContents(followUp as CannedRequest).map((m) => m.tool_call_id)).toEqual(['p1', 'p2', 'p3']);
  expectOneResultPerCall(followUp);
});

test('sensitive arguments are masked in streamed events', async () => {
  const events = [];
  for await (const e of client().chatStream({ message: 'case:sensitive' })) events.push(e);
  const started = events.map((e) => e.event).find((e) => e.case === 'toolCallStarted');
  expect(started?.case === 'toolCallStarted' && started.value.argumentsJson).toBe('{"phone":"***"}');
  const wire = events.map((e) => toJsonString(ChatStreamResponseSchema, e)).join('\n');
  expect(wire).not.toContain('138 0013');
});

test('a model repeating tool call ids (across turns and within one) gets unique ids; nothing fails', async () => {
  const first = await client().chat({ message: 'case:same-ids' });
  const second = await client().chat({ conversationId: first.conversationId, message: 'case:same-ids' });
  const ids = [...first.toolExecutions, ...second.toolExecutions].map((e) => e.toolCallId);
  expect([...first.toolExecutions, ...second.toolExecutions].every((e) => e.success)).toBe(true);
  expect(ids[0]).toBe('call_0');
  expect(new Set(ids).size).toBe(4);
  expectOneResultPerCall(model.requests.at(-1));
});

test('the orchestrator holds calls for a tool at its concurrency limit instead of overrunning it', async () => {
  const { response } = await runCase('concurrency-cap');
  expect(response.toolExecutions.map((e) => [e.success, e.errorCode])).toEqual([
    [true, ''],
    [true, ''],
    [true, ''],
  ]);
  expect(seen.singleSlotMostAtOnce).toBe(1);
});

test('a user over the per-tool rate gets RATE_LIMITED results, retryable', async () => {
  const { response } = await runCase('tool-rate', 'dev-key-u2002');
  const codes = response.toolExecutions.map((e) => e.errorCode);
  expect(codes).toHaveLength(12);
  expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(4);
  expect(response.toolExecutions.find((e) => e.errorCode === 'RATE_LIMITED')?.errorMessage).toMatch(
    /retry in \d+ s/,
  );
});

test('a user over the chat rate gets RESOURCE_EXHAUSTED at once; others are unaffected', async () => {
  const results = await Promise.all(
    Array.from({ length: 45 }, () =>
      client('dev-key-u2002')
        .chat({ message: 'hello' })
        .then(
          () => 'ok',
          (e: { code: Code }) => Code[e.code],
        ),
    ),
  );
  expect(results.filter((r) => r === 'ResourceExhausted').length).toBeGreaterThanOrEqual(5);
  expect(results.every((r) => r === 'ok' || r === 'ResourceExhausted')).toBe(true);
  expect((await client('dev-key-u1001').chat({ message: 'hello' })).reply).toBe('final answer for ');
  const error = await createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway))
    .chat({ message: 'hi' })
    .catch((e: { code: Code }) => e);
  expect((error as { code: Code }).code).toBe(Code.Unauthenticated);
});
