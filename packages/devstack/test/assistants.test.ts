// Assistants against real processes: an assistants file with a second assistant (its own
// instructions, one tool, temperature 0.1, an output limit of 321) makes the model receive
// exactly those; unknown and forbidden assistants are refused before the model is asked; the
// gateway lists a tenant's assistants and reports usage to operators; the file is reloaded
// on change, and a broken one is refused while the previous one keeps serving.
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, createClient } from '@connectrpc/connect';
import { AssistantService, ChatService, UsageService } from '@toolmesh/proto';
import {
  type CannedModel,
  type CannedRequest,
  createTestDatabase,
  rpcCode,
  startCannedModel,
  type TestDatabase,
  waitFor,
} from '@toolmesh/testkit';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

// What the orchestrator sends beyond what CannedRequest names.
type ModelBody = CannedRequest & {
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
};

const shopPrompt = 'You are the shop assistant of this test. SHOP-PROMPT-MARKER.';
const hrPrompt = (version: string) => `You are the HR helper (${version}). Answer only about leave days.`;

const assistantsFile = (hrInstructions: string) => `
assistants:
  - name: shop-support
    description: The shop
    instructions: "${shopPrompt}"
  - name: hr-helper
    description: Leave days
    instructions: "${hrInstructions}"
    tools: [get_order_detail]
    temperature: 0.1
    max_output_tokens: 321
  - name: acme-only
    instructions: Only for acme.
    tenants: [t_acme]
default: shop-support
`;

let dir: string;
let file: string;
let db: TestDatabase;
let model: CannedModel;
let mesh: Mesh;
const lines: string[] = [];

// Replaced in one step, so the orchestrator never reads half a file.
async function writeAssistants(text: string) {
  const next = `${file}.next`;
  await writeFile(next, text);
  await rename(next, file);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolmesh-assistants-'));
  file = join(dir, 'assistants.yaml');
  await writeAssistants(assistantsFile(hrPrompt('v1')));
  db = await createTestDatabase();
  model = await startCannedModel(() => ({ content: 'canned answer' }));
  mesh = await startMesh({
    ports: await freeMeshPorts(),
    databaseUrl: db.url,
    model: { baseUrl: model.baseUrl },
    assistantsFile: file,
    env: { LOG_LEVEL: 'warn' },
    // Reloads show within a fraction of a second instead of the default 5 s.
    serviceEnv: { orchestrator: { ASSISTANTS_CHECK_MS: '200' } },
    onLine: (service, line) => {
      if (service === 'orchestrator') lines.push(line);
    },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await model?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

const as = (key = 'dev-key-u1001') => gatewayTransport(mesh.grpcAddresses.gateway, key);
const chat = (key?: string) => createClient(ChatService, as(key));
const sentSince = (before: number) => model.requests.slice(before) as ModelBody[];

test('a chat naming the second assistant sends the model its instructions, its one tool, temperature 0.1 and max_tokens 321', async () => {
  const before = model.requests.length;
  const res = await chat().chat({ message: 'How many leave days do I have?', assistant: 'hr-helper' });
  expect(res.reply).toBe('canned answer');
  expect(res.usage).toMatchObject({ assistant: 'hr-helper', variant: 'default' });
  expect(res.usage?.model).not.toBe('');
  const sent = sentSince(before);
  expect(sent).toHaveLength(1);
  const [request] = sent as [ModelBody];
  expect(request.messages[0]).toEqual({ role: 'system', content: hrPrompt('v1') });
  expect(request.messages.filter((m) => m.role === 'system')).toHaveLength(1);
  expect(request.tools?.map((t) => t.function.name)).toEqual(['get_order_detail']);
  expect(request.temperature).toBe(0.1);
  expect(request.max_tokens).toBe(321);
  expect(request.max_completion_tokens).toBeUndefined();
  // Nothing of the other assistant's prompt.
  expect(JSON.stringify(request)).not.toContain('SHOP-PROMPT-MARKER');

  // The same through ChatStream.
  const start = model.requests.length;
  for await (const _ of chat().chatStream({ message: 'And next year?', assistant: 'hr-helper' })) {
    // read to the end
  }
  const streamed = sentSince(start);
  expect(streamed).toHaveLength(1);
  expect(streamed[0]).toMatchObject({ temperature: 0.1, max_tokens: 321, stream: true });
  expect(streamed[0]?.messages[0]).toEqual({ role: 'system', content: hrPrompt('v1') });
  expect(streamed[0]?.tools?.map((t) => t.function.name)).toEqual(['get_order_detail']);
}, 60_000);

test('no assistant named: the default, with every tool the user may run and no parameters of its own', async () => {
  const before = model.requests.length;
  const res = await chat().chat({ message: 'Hello' });
  expect(res.usage?.assistant).toBe('shop-support');
  const [request] = sentSince(before) as [ModelBody];
  expect(request.messages[0]).toEqual({ role: 'system', content: shopPrompt });
  expect(request.tools?.map((t) => t.function.name)).toEqual(
    expect.arrayContaining(['get_order_detail', 'get_inventory_snapshot', 'get_dispatch_plan']),
  );
  expect(request.temperature).toBeUndefined();
  expect(request.max_tokens).toBeUndefined();
}, 60_000);

test('an unknown assistant, or one the tenant may not use, is NOT_FOUND and the model is not asked; another assistant on a conversation is INVALID_ARGUMENT', async () => {
  const before = model.requests.length;
  expect(await rpcCode(chat().chat({ message: 'hi', assistant: 'no-such-assistant' }))).toBe(Code.NotFound);
  expect(await rpcCode(chat().chat({ message: 'hi', assistant: 'acme-only' }))).toBe(Code.NotFound);
  const stream = async () => {
    for await (const _ of chat().chatStream({ message: 'hi', assistant: 'no-such-assistant' })) {
      // read to the end
    }
  };
  expect(await rpcCode(stream())).toBe(Code.NotFound);
  expect(model.requests.length).toBe(before);

  const started = await chat().chat({ message: 'hi', assistant: 'hr-helper' });
  const asked = model.requests.length;
  expect(
    await rpcCode(
      chat().chat({ conversationId: started.conversationId, message: 'again', assistant: 'shop-support' }),
    ),
  ).toBe(Code.InvalidArgument);
  expect(model.requests.length).toBe(asked);
  // Naming none, or the same one, continues it with its assistant.
  const next = await chat().chat({ conversationId: started.conversationId, message: 'again' });
  expect(next.usage?.assistant).toBe('hr-helper');
}, 60_000);

test("ListAssistants through the gateway: the tenant's assistants and default, no instructions", async () => {
  const res = await createClient(AssistantService, as()).listAssistants({});
  expect(res.defaultAssistant).toBe('shop-support');
  expect(res.assistants.map((a) => a.name)).toEqual(['shop-support', 'hr-helper']);
  expect(res.assistants[1]).toMatchObject({
    description: 'Leave days',
    tools: ['get_order_detail'],
    variants: [{ name: 'default', weight: expect.any(Number) }],
  });
  expect(JSON.stringify(res, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toMatch(
    /SHOP-PROMPT-MARKER|HR helper/,
  );
  expect(await rpcCode(createClient(AssistantService, as('no-such-key-000000')).listAssistants({}))).toBe(
    Code.Unauthenticated,
  );
}, 60_000);

test("GetUsage through the gateway: the operator reads its tenant's turns per assistant; a user may not", async () => {
  const usage = createClient(UsageService, as('dev-key-operator'));
  const res = await usage.getUsage({ assistant: 'hr-helper' });
  expect(res.rows.length).toBeGreaterThan(0);
  for (const row of res.rows) expect(row).toMatchObject({ tenantId: 't_demo', assistant: 'hr-helper' });
  const turns = res.rows.reduce((n, r) => n + r.turns, 0n);
  expect(turns).toBeGreaterThanOrEqual(3n);
  expect(res.rows.reduce((n, r) => n + r.totalTokens, 0n)).toBeGreaterThan(0n);
  expect(await rpcCode(createClient(UsageService, as()).getUsage({}))).toBe(Code.PermissionDenied);
  expect(await rpcCode(usage.getUsage({ tenantId: 't_acme' }))).toBe(Code.PermissionDenied);
}, 60_000);

test('reload: a changed file is used by later chats; a broken one is refused and the previous one kept', async () => {
  const systemPromptOf = async () => {
    const before = model.requests.length;
    await chat().chat({ message: 'Leave days?', assistant: 'hr-helper' });
    return sentSince(before)[0]?.messages[0]?.content;
  };
  await writeAssistants(assistantsFile(hrPrompt('v2')));
  await waitFor(async () => (await systemPromptOf()) === hrPrompt('v2'), {
    what: 'a chat with the reloaded instructions',
    timeoutMs: 30_000,
    intervalMs: 200,
  });

  // Out of range: the whole file is refused (logged with the key), v2 keeps serving.
  await writeAssistants(assistantsFile(hrPrompt('v3')).replace('temperature: 0.1', 'temperature: 7'));
  await waitFor(() => lines.some((l) => l.includes('assistants file refused')), {
    what: 'the orchestrator refusing the broken file',
    timeoutMs: 30_000,
  });
  expect(lines.find((l) => l.includes('assistants file refused'))).toContain('temperature');
  expect(await systemPromptOf()).toBe(hrPrompt('v2'));
  expect(await rpcCode(chat().chat({ message: 'hi', assistant: 'no-such-assistant' }))).toBe(Code.NotFound);
}, 90_000);
