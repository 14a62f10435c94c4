// Turns with assistants, in process: the assistant's instructions, tools, model parameters
// and limits reach the model; conversations keep their assistant and variant; fallback
// models only while the previous one is unavailable; tenants' budgets refuse before the
// model is asked; one usage row per turn.
import { Code, ConnectError } from '@connectrpc/connect';
import { StopReason } from '@toolmesh/proto';
import { readErrorInfo } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import type {
  Assistant,
  AssistantCatalog,
  AssistantVariant,
  ModelBackend,
  TenantPolicy,
} from '../src/assistants/index.ts';
import { createTenantBudgets } from '../src/budgets/index.ts';
import {
  type ModelClient,
  type ModelRequest,
  ModelUnavailableError,
  withModelBreaker,
} from '../src/model/index.ts';
import { createScriptedModel, toolCall } from './support/scripted-model.ts';
import { createTestEngine, lastToolResults, principal, turnOf, until } from './support/test-engine.ts';
import { gate, type WorldTool } from './support/tool-world.ts';

const backend = (name: string): ModelBackend => ({
  name,
  baseURL: `http://${name}.invalid/v1`,
  apiKey: 'none',
  model: `${name}-model`,
});

const variant = (overrides: Partial<AssistantVariant> = {}): AssistantVariant => ({
  name: 'default',
  weight: 1,
  instructions: 'You are a test assistant.',
  models: ['primary'],
  limits: {},
  ...overrides,
});

const assistant = (name: string, variants: AssistantVariant[], tenants?: string[]): Assistant => ({
  name,
  variants,
  ...(tenants ? { tenants } : {}),
});

function catalogOf(
  assistants: Assistant[],
  tenants: Record<string, TenantPolicy> = {},
  models = ['primary', 'secondary'],
): AssistantCatalog {
  return {
    assistants: new Map(assistants.map((a) => [a.name, a])),
    defaultAssistant: assistants[0]?.name ?? '',
    models: new Map(models.map((m) => [m, backend(m)])),
    tenants: new Map(Object.entries(tenants)),
  } as AssistantCatalog;
}

const readOrder: WorldTool = {
  name: 'get_order_detail',
  permission: 'order:read',
  run: (args) => ({ order_id: args.order_id, status: 'shipped' }),
};
const readStock: WorldTool = {
  name: 'get_inventory_snapshot',
  permission: 'inventory:read',
  run: () => ({ skus: [] }),
};
const createTicket: WorldTool = {
  name: 'create_ticket',
  permission: 'ticket:write',
  sideEffect: 'write',
  run: () => ({ ticket_id: 'T1' }),
};
const tools = [readOrder, readStock, createTicket];

const shop = assistant('shop-support', [
  variant({
    instructions: 'You are the assistant of an online shop.',
    tools: ['get_order_detail', 'create_ticket'],
  }),
]);
const ops = assistant('ops', [
  variant({
    instructions: 'You are the ops assistant. Only stock questions.',
    tools: ['get_inventory_snapshot'],
    temperature: 0.1,
    maxOutputTokens: 321,
  }),
]);

const toolNames = (request: ModelRequest | undefined) =>
  (request?.tools ?? []).map((t) => (t.type === 'function' ? t.function.name : ''));

async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

test("the model receives the named assistant's instructions, only its tools, its temperature and output limit", async () => {
  const t = createTestEngine({
    tools,
    assistants: { current: () => catalogOf([shop, ops]) },
    script: () => ({ content: 'stock is fine' }),
  });
  const res = await t.engine.chat(turnOf(), '', 'how is stock?', '', 'ops');
  const request = t.model.requests[0];
  expect(request?.messages[0]).toEqual({
    role: 'system',
    content: 'You are the ops assistant. Only stock questions.',
  });
  // Nothing of the other assistant's prompt.
  expect(JSON.stringify(request?.messages)).not.toContain('online shop');
  expect(toolNames(request)).toEqual(['get_inventory_snapshot']);
  expect(request).toMatchObject({ temperature: 0.1, maxOutputTokens: 321 });
  expect(request?.labels).toEqual({ assistant: 'ops', variant: 'default' });
  expect(res.usage).toMatchObject({
    model: 'primary-model',
    assistant: 'ops',
    variant: 'default',
    modelCalls: 1,
    totalTokens: 15,
  });
  // The default assistant sends no parameters it does not set.
  await t.engine.chat(turnOf(), '', 'where is my order?');
  const plain = t.model.requests[1];
  expect(plain?.messages[0]?.content).toBe('You are the assistant of an online shop.');
  expect(toolNames(plain)).toEqual(['get_order_detail', 'create_ticket']);
  expect(plain).not.toHaveProperty('temperature');
  expect(plain).not.toHaveProperty('maxOutputTokens');
});

test('without an assistants file the neutral assistant runs with every permitted tool and no shop prompt', async () => {
  const t = createTestEngine({ tools, script: () => ({ content: 'hi' }) });
  const res = await t.engine.chat(turnOf(), '', 'hi');
  expect(res.usage).toMatchObject({ assistant: 'default', variant: 'default', model: 'scripted' });
  expect(String(t.model.requests[0]?.messages[0]?.content)).not.toContain('shop');
  expect(toolNames(t.model.requests[0])).toEqual([
    'get_order_detail',
    'get_inventory_snapshot',
    'create_ticket',
  ]);
});

test('a call to a tool outside the assistant is refused exactly like an unknown tool', async () => {
  const t = createTestEngine({
    tools,
    assistants: { current: () => catalogOf([ops]) },
    script: (_r, step) =>
      step === 0
        ? {
            toolCalls: [
              toolCall('get_order_detail', { order_id: '202604100018' }, 'outside'),
              toolCall('no_such_tool', {}, 'unknown'),
            ],
          }
        : { content: 'done' },
  });
  const res = await t.engine.chat(turnOf(), '', 'where is my order?');
  const results = lastToolResults(t.model.requests[1]);
  const error = (id: string) => JSON.parse(results.find((r) => r.id === id)?.content ?? '{}').error;
  expect(error('outside')).toEqual({
    code: 'INVALID_ARGUMENT',
    message: 'unknown tool "get_order_detail"',
    retryable: false,
  });
  expect(error('unknown')).toEqual({ ...error('outside'), message: 'unknown tool "no_such_tool"' });
  expect(res.toolExecutions.map((e) => [e.toolName, e.success, e.errorCode])).toEqual([
    ['get_order_detail', false, 'INVALID_ARGUMENT'],
    ['no_such_tool', false, 'INVALID_ARGUMENT'],
  ]);
  expect(t.world.invocations).toHaveLength(0);
});

test('unknown and forbidden assistants are refused before anything is stored or asked', async () => {
  const t = createTestEngine({
    tools,
    assistants: { current: () => catalogOf([shop, assistant('acme-only', [variant()], ['t_acme'])]) },
    script: () => ({ content: 'hi' }),
  });
  expect((await refusal(t.engine.chat(turnOf(), '', 'hi', '', 'nope'))).code).toBe(Code.NotFound);
  expect((await refusal(t.engine.chat(turnOf(), '', 'hi', '', 'acme-only'))).code).toBe(Code.NotFound);
  expect(t.model.requests).toHaveLength(0);
  const acme = await t.engine.chat(turnOf(principal('u_1', undefined, 't_acme')), '', 'hi', '', 'acme-only');
  expect(acme.usage?.assistant).toBe('acme-only');
});

test('a conversation keeps its assistant and variant; another assistant on a later turn is refused', async () => {
  const split = assistant('split', [
    variant({ name: 'v1', weight: 1, instructions: 'one' }),
    variant({ name: 'v2', weight: 1, instructions: 'two' }),
  ]);
  let catalog = catalogOf([split, ops]);
  const t = createTestEngine({
    tools,
    assistants: { current: () => catalog },
    script: () => ({ content: 'ok' }),
  });
  const first = await t.engine.chat(turnOf(), '', 'hi', '', 'split');
  const chosen = first.usage?.variant ?? '';
  expect(['v1', 'v2']).toContain(chosen);
  expect(t.conversations.conversation(first.conversationId)?.assistant).toEqual({
    assistant: 'split',
    variant: chosen,
  });
  // Weights change on reload; the conversation keeps its variant.
  catalog = catalogOf([
    assistant('split', [
      variant({ name: 'v1', weight: chosen === 'v1' ? 0 : 1, instructions: 'one' }),
      variant({ name: 'v2', weight: chosen === 'v2' ? 0 : 1, instructions: 'two' }),
    ]),
    ops,
  ]);
  const again = await t.engine.chat(turnOf(), first.conversationId, 'more');
  expect(again.usage).toMatchObject({ assistant: 'split', variant: chosen });
  expect(t.model.requests[1]?.messages[0]?.content).toBe(chosen === 'v1' ? 'one' : 'two');
  const named = await t.engine.chat(turnOf(), first.conversationId, 'more', '', 'split');
  expect(named.usage?.variant).toBe(chosen);
  const other = await refusal(t.engine.chat(turnOf(), first.conversationId, 'switch', '', 'ops'));
  expect(other.code).toBe(Code.InvalidArgument);
  expect(t.model.requests).toHaveLength(3);
  // The refusal released the conversation: the next message is served.
  await t.engine.chat(turnOf(), first.conversationId, 'still there?');
});

test('a conversation from before assistants takes the default, and keeps it', async () => {
  const t = createTestEngine({
    tools,
    assistants: { current: () => catalogOf([shop, ops]) },
    script: () => ({ content: 'ok' }),
  });
  const first = await t.engine.chat(turnOf(), '', 'hi');
  const stored = t.conversations.conversation(first.conversationId);
  if (stored) stored.assistant = undefined;
  const next = await t.engine.chat(turnOf(), first.conversationId, 'again');
  expect(next.usage?.assistant).toBe('shop-support');
  // From then on it keeps that assistant.
  expect(t.conversations.conversation(first.conversationId)?.assistant).toEqual({
    assistant: 'shop-support',
    variant: 'default',
  });
  const other = await refusal(t.engine.chat(turnOf(), first.conversationId, 'switch', '', 'ops'));
  expect(other.code).toBe(Code.InvalidArgument);
});

test("a Confirm continues with the conversation's assistant", async () => {
  const t = createTestEngine({
    tools,
    assistants: { current: () => catalogOf([ops, shop]) },
    script: (r, step) =>
      step === 0 && r.messages.findLast((m) => m.role === 'user')?.content === 'open a ticket'
        ? { toolCalls: [toolCall('create_ticket', { order_id: '202604100018' })] }
        : { content: 'ticket opened' },
  });
  const res = await t.engine.chat(turnOf(), '', 'open a ticket', '', 'shop-support');
  const action = res.pendingActions[0];
  if (!action) throw new Error('no pending action');
  const done = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, true);
  expect(done.usage).toMatchObject({ assistant: 'shop-support', variant: 'default', modelCalls: 1 });
  expect(t.model.requests.at(-1)?.messages[0]?.content).toBe('You are the assistant of an online shop.');
  expect(t.usageRows.map((r) => r.assistant)).toEqual(['shop-support', 'shop-support']);
});

test("an assistant's own limits replace the orchestrator's", async () => {
  const t = createTestEngine({
    tools,
    maxRounds: 5,
    assistants: {
      current: () =>
        catalogOf([assistant('brief', [variant({ tools: ['get_order_detail'], limits: { maxRounds: 1 } })])]),
    },
    script: (r) =>
      r.toolChoice === 'none'
        ? { content: 'that is all I can do' }
        : { toolCalls: [toolCall('get_order_detail', { order_id: '202604100018' })] },
  });
  const res = await t.engine.chat(turnOf(), '', 'where is my order?');
  expect(res.stopReason).toBe(StopReason.ROUND_LIMIT);
  expect(t.model.requests).toHaveLength(2);
});

describe('fallback models', () => {
  const twoModels = assistant('two', [variant({ models: ['primary', 'secondary'] })]);
  const answering = (content: string) => createScriptedModel(() => ({ content }));

  test('the second model answers when the first is unavailable, and is named in the usage', async () => {
    const secondary = answering('from the secondary');
    const t = createTestEngine({
      tools,
      assistants: { current: () => catalogOf([twoModels]) },
      backends: {
        primary: {
          complete: async () => Promise.reject(new ModelUnavailableError(new Error('ECONNREFUSED'))),
        },
        secondary,
      },
      script: () => ({ content: 'unused' }),
    });
    const res = await t.engine.chat(turnOf(), '', 'hi');
    expect(res).toMatchObject({ reply: 'from the secondary', usage: { model: 'secondary-model' } });
    expect(secondary.requests).toHaveLength(1);
    expect(t.usageRows).toEqual([
      expect.objectContaining({ model: 'secondary-model', assistant: 'two', promptTokens: 10 }),
    ]);
  });

  test('an open breaker passes at once to the next model, without calling the first', async () => {
    let primaryCalls = 0;
    const failing: ModelClient = {
      complete: async () => {
        primaryCalls++;
        throw new ModelUnavailableError(new Error('503'));
      },
    };
    const t = createTestEngine({
      tools,
      assistants: { current: () => catalogOf([twoModels]) },
      backends: {
        primary: withModelBreaker(failing, { failureThreshold: 1, halfOpenAfterMs: 60_000 }),
        secondary: answering('fallback'),
      },
      script: () => ({ content: 'unused' }),
    });
    await t.engine.chat(turnOf(), '', 'one');
    await t.engine.chat(turnOf(), '', 'two');
    expect(primaryCalls).toBe(1);
  });

  test('no fallback after the first model answered, nor when it refused the request (4xx)', async () => {
    const secondary = answering('never');
    const primary = answering('from the primary');
    const t = createTestEngine({
      tools,
      assistants: { current: () => catalogOf([twoModels]) },
      backends: { primary, secondary },
      script: () => ({ content: 'unused' }),
    });
    expect((await t.engine.chat(turnOf(), '', 'hi')).usage?.model).toBe('primary-model');

    const refusing = createTestEngine({
      tools,
      assistants: { current: () => catalogOf([twoModels]) },
      backends: {
        primary: {
          complete: async () =>
            Promise.reject(new ModelUnavailableError(Object.assign(new Error('400'), { status: 400 }), true)),
        },
        secondary,
      },
      script: () => ({ content: 'unused' }),
    });
    await expect(refusing.engine.chat(turnOf(), '', 'hi')).rejects.toBeInstanceOf(ModelUnavailableError);
    expect(secondary.requests).toHaveLength(0);
  });
});

describe('tenant budgets', () => {
  const logger = createLogger({ service: 'orchestrator-test', level: 'silent' });
  const withPolicy = (policy: TenantPolicy) => ({
    tools,
    assistants: { current: () => catalogOf([shop], { t_demo: policy }) },
    budgets: (clock: Parameters<typeof createTenantBudgets>[0]['clock']) =>
      createTenantBudgets({ prefix: 'test:', logger, clock }),
  });

  test('a tenant over its tokens of the day is refused before the model is asked, until the next UTC midnight', async () => {
    const t = createTestEngine({ ...withPolicy({ tokensPerDay: 15 }), script: () => ({ content: 'ok' }) });
    // The manual clock starts at 2026-01-01T00:00Z.
    await t.clock.advance(18 * 3_600_000);
    await t.engine.chat(turnOf(), '', 'hi'); // 15 tokens: the day's budget
    const refused = await refusal(t.engine.chat(turnOf(), '', 'again'));
    expect(refused.code).toBe(Code.ResourceExhausted);
    expect(readErrorInfo(refused)).toMatchObject({
      reason: 'TENANT_BUDGET_EXHAUSTED',
      retryAfterMs: 6 * 3_600_000,
    });
    expect(refused.rawMessage).toContain('retry after 21600 s');
    expect(t.model.requests).toHaveLength(1);
    // Another tenant is not affected.
    await t.engine.chat(turnOf(principal('u_9', undefined, 't_other')), '', 'hi');
    await t.clock.advance(6 * 3_600_000);
    await t.engine.chat(turnOf(), '', 'a new day');
    expect(t.model.requests).toHaveLength(3);
  });

  test('turns at once are capped per tenant; a slot frees when its turn ends', async () => {
    const held = gate();
    let calls = 0;
    const slow: ModelClient = {
      async complete() {
        calls++;
        if (calls === 1) await held.promise;
        return { content: 'ok', toolCalls: [], usage: { promptTokens: 1, completionTokens: 1 } };
      },
    };
    const t = createTestEngine({
      ...withPolicy({ concurrentTurns: 1 }),
      backends: { primary: slow },
      script: () => ({ content: 'unused' }),
    });
    const first = t.engine.chat(turnOf(), '', 'slow one');
    await until(() => calls === 1, 'the first turn asks the model');
    const busy = await refusal(t.engine.chat(turnOf(principal('u_2002')), '', 'meanwhile'));
    expect(busy.code).toBe(Code.ResourceExhausted);
    expect(readErrorInfo(busy)).toMatchObject({ reason: 'TENANT_BUSY', retryAfterMs: 1_000 });
    expect(calls).toBe(1);
    held.open();
    await first;
    await t.engine.chat(turnOf(principal('u_2002')), '', 'now');
    expect(calls).toBe(2);
  });

  test("a tenant's chat rate is a token bucket", async () => {
    const t = createTestEngine({
      ...withPolicy({ chatRatePerSec: 1, chatBurst: 1 }),
      script: () => ({ content: 'ok' }),
    });
    await t.engine.chat(turnOf(), '', 'one');
    const limited = await refusal(t.engine.chat(turnOf(), '', 'two'));
    expect(readErrorInfo(limited)).toMatchObject({ reason: 'RATE_LIMITED', retryAfterMs: 1_000 });
    await t.clock.advance(1_000);
    await t.engine.chat(turnOf(), '', 'three');
    expect(t.model.requests).toHaveLength(2);
  });
});

test('one usage row per turn that called the model, with its tokens, model, assistant and variant', async () => {
  const t = createTestEngine({
    tools,
    assistants: { current: () => catalogOf([shop, ops]) },
    script: (_r, step) =>
      step === 0
        ? { toolCalls: [toolCall('get_order_detail', { order_id: '202604100018' })] }
        : { content: 'shipped' },
  });
  const res = await t.engine.chat(turnOf(), '', 'where is my order?');
  await refusal(t.engine.chat(turnOf(), '', 'x', '', 'nope'));
  expect(t.usageRows).toEqual([
    {
      tenantId: 't_demo',
      userId: 'u_1001',
      conversationId: res.conversationId,
      assistant: 'shop-support',
      variant: 'default',
      model: 'primary-model',
      promptTokens: 20,
      completionTokens: 10,
      modelCalls: 2,
    },
  ]);
});
