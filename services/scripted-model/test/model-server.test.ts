import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createManualClock } from '@toolmesh/clock';
import { createLogger } from '@toolmesh/telemetry';
import OpenAI from 'openai';
import { createModelServer, type ModelServer } from '../src/index.ts';
import { demoResults, demoTools, orderId } from './demo-world.ts';

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type ToolCall = OpenAI.Chat.Completions.ChatCompletionMessageToolCall;

const logLines: string[] = [];
const logger = createLogger({
  service: 'scripted-model-test',
  level: 'debug',
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
});

let server: ModelServer;
let baseURL: string;
let client: OpenAI;

beforeAll(async () => {
  server = createModelServer({ logger });
  const port = await server.listen(0);
  baseURL = `http://127.0.0.1:${port}/v1`;
  client = new OpenAI({ baseURL, apiKey: 'test', maxRetries: 0 });
});

afterAll(() => server.close(1_000));

const ask = (content: string): Message[] => [
  { role: 'system', content: 'You are the toolmesh demo assistant.' },
  { role: 'user', content },
];

/** Appends the assistant's calls and the demo world's answer to each. */
function feedResults(messages: Message[], content: string | null, toolCalls: ToolCall[]): Message[] {
  return [
    ...messages,
    { role: 'assistant', content, tool_calls: toolCalls },
    ...toolCalls.map(
      (call): Message => ({
        role: 'tool',
        tool_call_id: call.id,
        content: JSON.stringify(call.type === 'function' ? demoResults[call.function.name] : {}),
      }),
    ),
  ];
}

/** Reassembles a streamed answer by hand, the way an orchestrator consuming deltas would. */
async function streamTurn(messages: Message[]) {
  const stream = await client.chat.completions.create({
    model: 'toolmesh-scripted',
    messages,
    tools: demoTools,
    stream: true,
    stream_options: { include_usage: true },
  });
  let content = '';
  let role: string | undefined;
  let finishReason: string | null = null;
  let usage: OpenAI.CompletionUsage | null | undefined;
  let contentDeltas = 0;
  const calls: { id: string; name: string; arguments: string }[] = [];
  for await (const chunk of stream) {
    expect(chunk.object).toBe('chat.completion.chunk');
    expect(chunk.id).toMatch(/^chatcmpl-/);
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    role ??= choice.delta.role;
    if (choice.delta.content) {
      content += choice.delta.content;
      contentDeltas += 1;
    }
    for (const delta of choice.delta.tool_calls ?? []) {
      const call = calls[delta.index] ?? { id: '', name: '', arguments: '' };
      calls[delta.index] = call;
      if (delta.id) call.id = delta.id;
      if (delta.function?.name) call.name = delta.function.name;
      call.arguments += delta.function?.arguments ?? '';
    }
    if (choice.finish_reason) finishReason = choice.finish_reason;
  }
  return { role, content, contentDeltas, calls, finishReason, usage };
}

describe('plain completions', () => {
  it('answers a chat.completion with the first tool call and usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'toolmesh-scripted',
      messages: ask(`Where is my order ${orderId}?`),
      tools: demoTools,
      tool_choice: 'auto',
    });
    expect(completion.id).toMatch(/^chatcmpl-\w+$/);
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('toolmesh-scripted');
    expect(typeof completion.created).toBe('number');
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.role).toBe('assistant');
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls).toEqual([
      {
        id: 'call_0_0_get_order_detail',
        type: 'function',
        function: {
          name: 'get_order_detail',
          arguments: JSON.stringify({ order_id: orderId, include_items: true }),
        },
      },
    ]);
    const usage = completion.usage;
    expect(usage?.prompt_tokens).toBeGreaterThan(50);
    expect(usage?.completion_tokens).toBeGreaterThan(0);
    expect(usage?.total_tokens).toBe((usage?.prompt_tokens ?? 0) + (usage?.completion_tokens ?? 0));
  });

  it('estimates tokens deterministically', async () => {
    const request = { model: 'm', messages: ask('hello') };
    const a = await client.chat.completions.create(request);
    const b = await client.chat.completions.create(request);
    expect(a.usage).toEqual(b.usage);
    expect(a.choices[0]?.message.content).toContain('12-digit order number');
    expect(a.choices[0]?.finish_reason).toBe('stop');
    expect(a.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it('runs the whole demo conversation for an invoice request', async () => {
    let messages = ask(`Hi, where is order ${orderId}? And I need the invoice for it.`);
    const rounds: { content: string | null; calls: string[] }[] = [];
    for (let i = 0; i < 6; i++) {
      const completion = await client.chat.completions.create({
        model: 'toolmesh-scripted',
        messages,
        tools: demoTools,
        parallel_tool_calls: true,
      });
      const message = completion.choices[0]?.message;
      const toolCalls = message?.tool_calls ?? [];
      rounds.push({
        content: message?.content ?? null,
        calls: toolCalls.map((c) => (c.type === 'function' ? c.function.name : '')),
      });
      if (toolCalls.length === 0) break;
      messages = feedResults(messages, message?.content ?? null, toolCalls);
    }
    expect(rounds.map((r) => r.calls)).toEqual([
      ['get_order_detail'],
      ['get_inventory_snapshot', 'get_dispatch_plan'],
      ['create_ticket'],
      [],
    ]);
    expect(rounds[2]?.content).toContain('status shipped');
    expect(rounds[2]?.content).toContain(
      `Your invoice isn't ready yet, so I'd like to open an invoice ticket for order ${orderId}.`,
    );
    const answer = rounds[3]?.content ?? '';
    for (const fact of [
      'status shipped',
      'SF1234567890',
      '12 available',
      '2026-12-05',
      'SF Express',
      'T-0001',
    ]) {
      expect(answer).toContain(fact);
    }
  });
});

describe('streaming', () => {
  it('streams a tool call whose arguments reassemble', async () => {
    const turn = await streamTurn(ask(`order ${orderId} please`));
    expect(turn.role).toBe('assistant');
    expect(turn.finishReason).toBe('tool_calls');
    expect(turn.content).toBe('');
    expect(turn.calls).toEqual([
      {
        id: 'call_0_0_get_order_detail',
        name: 'get_order_detail',
        arguments: JSON.stringify({ order_id: orderId, include_items: true }),
      },
    ]);
    expect(turn.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('streams text in several deltas, and text alongside a tool call', async () => {
    let messages = ask(`invoice for ${orderId}`);
    const turns = [];
    for (let i = 0; i < 6; i++) {
      const turn = await streamTurn(messages);
      turns.push(turn);
      if (turn.calls.length === 0) break;
      const toolCalls = turn.calls.map(
        (c): ToolCall => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }),
      );
      messages = feedResults(messages, turn.content || null, toolCalls);
    }
    expect(turns.map((t) => t.calls.map((c) => c.name))).toEqual([
      ['get_order_detail'],
      ['get_inventory_snapshot', 'get_dispatch_plan'],
      ['create_ticket'],
      [],
    ]);
    expect(JSON.parse(turns[1]?.calls[0]?.arguments ?? '')).toEqual({ skus: ['SKU-1001', 'SKU-2002'] });
    expect(turns[2]?.content).toContain("I'd like to open an invoice ticket");
    expect(turns[2]?.finishReason).toBe('tool_calls');
    const last = turns[3];
    expect(last?.finishReason).toBe('stop');
    expect(last?.contentDeltas).toBeGreaterThan(10);
    expect(last?.content).toContain('Invoice: not ready yet; I opened invoice ticket T-0001 (status open).');
  });

  it('is reassembled by the SDK stream helper', async () => {
    const first = await client.chat.completions.create({
      model: 'toolmesh-scripted',
      messages: ask(`order ${orderId}`),
      tools: demoTools,
    });
    const messages = feedResults(ask(`order ${orderId}`), null, first.choices[0]?.message.tool_calls ?? []);
    const stream = client.chat.completions.stream({ model: 'toolmesh-scripted', messages, tools: demoTools });
    const completion = await stream.finalChatCompletion();
    const calls = completion.choices[0]?.message.tool_calls ?? [];
    expect(completion.choices[0]?.finish_reason).toBe('tool_calls');
    expect(
      calls.map((c) =>
        c.type === 'function' ? [c.id, c.function.name, JSON.parse(c.function.arguments)] : [],
      ),
    ).toEqual([
      ['call_1_0_get_inventory_snapshot', 'get_inventory_snapshot', { skus: ['SKU-1001', 'SKU-2002'] }],
      ['call_1_1_get_dispatch_plan', 'get_dispatch_plan', { order_id: orderId }],
    ]);
  });

  it('sends raw SSE the way OpenAI does', async () => {
    const res = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter(Boolean);
    expect(events.every((e) => e.startsWith('data: '))).toBe(true);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice('data: '.length)));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.at(-1).choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' });
    // No include_usage: no usage chunk.
    expect(chunks.every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
  });
});

describe('other endpoints and errors', () => {
  it('lists the model and answers /healthz', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models).toEqual([
      { id: 'toolmesh-scripted', object: 'model', created: expect.any(Number), owned_by: 'toolmesh' },
    ]);
    const health = await fetch(new URL('/healthz', baseURL));
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok');
  });

  it('answers 400 with the OpenAI error shape on a bad body', async () => {
    const bad = client.chat.completions.create({
      model: 'toolmesh-scripted',
      messages: [{ role: 'wizard', content: 'hi' }] as unknown as Message[],
    });
    await expect(bad).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(bad).rejects.toMatchObject({ status: 400, type: 'invalid_request_error' });

    const post = (body: string) =>
      fetch(`${baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
    for (const body of ['{not json', '{"model":"m"}', '{"model":"m","messages":[]}', '[]']) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: null },
      });
    }
    const forcedUnknown = await post(
      JSON.stringify({
        model: 'm',
        messages: [{ role: 'user', content: 'hi' }],
        tool_choice: { type: 'function', function: { name: 'nope' } },
      }),
    );
    expect(forcedUnknown.status).toBe(400);
    expect(logLines.some((line) => line.includes('bad chat completion request'))).toBe(true);
  });

  it('answers 404 on unknown paths and 405 on wrong methods, in the same shape', async () => {
    const missing = await fetch(new URL('/v1/embeddings', baseURL), { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: {
        message: 'Invalid URL (POST /v1/embeddings).',
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
    const wrongMethod = await fetch(`${baseURL}/chat/completions`);
    expect(wrongMethod.status).toBe(405);
    expect(((await wrongMethod.json()) as { error: { type: string } }).error.type).toBe(
      'invalid_request_error',
    );
  });

  it('accepts content parts and ignores unknown fields', async () => {
    const completion = await client.chat.completions.create({
      model: 'toolmesh-scripted',
      messages: [{ role: 'user', content: [{ type: 'text', text: `order ${orderId}` }] }],
      tools: demoTools,
      temperature: 0.2,
      max_tokens: 100,
    });
    expect(completion.choices[0]?.message.tool_calls?.[0]?.id).toBe('call_0_0_get_order_detail');
  });
});

describe('think time', () => {
  it('answers only once latencyMs passed on its clock', async () => {
    const clock = createManualClock();
    const slow = createModelServer({ logger, latencyMs: 150, clock });
    const port = await slow.listen(0);
    try {
      const slowClient = new OpenAI({
        baseURL: `http://127.0.0.1:${port}/v1`,
        apiKey: 'test',
        maxRetries: 0,
      });
      let answered = false;
      const request = slowClient.chat.completions.create({ model: 'm', messages: ask('hi') }).then((c) => {
        answered = true;
        return c;
      });
      // The request arrived and its think time waits on the clock (generous deadline, nothing timed).
      const deadline = Date.now() + 30_000;
      while (clock.pending() === 0 && Date.now() < deadline) await sleep(5);
      expect(clock.pending()).toBe(1);
      await clock.advance(149);
      expect(clock.pending()).toBe(1);
      expect(answered).toBe(false);
      await clock.advance(1);
      expect(clock.pending()).toBe(0);
      expect((await request).choices[0]?.message).toBeDefined();
    } finally {
      await slow.close(1_000);
    }
  });
});
