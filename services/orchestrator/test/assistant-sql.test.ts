// What the SQL store keeps of assistants: a conversation's assistant and variant, the audit
// records taking them from their conversation, and usage per turn summed for operators.
import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { createManualClock } from '@toolmesh/clock';
import { PrincipalSchema } from '@toolmesh/proto';
import {
  createConversationStore,
  createExecutionLedger,
  createUsageStore,
  type ExecutionStart,
  type TurnUsageRow,
} from '../src/store/index.ts';
import { useOrchestratorDatabase } from './support/use-orchestrator-database.ts';

const db = useOrchestratorDatabase();

const u1001 = create(PrincipalSchema, { userId: 'u_1001', tenantId: 't_demo', permissions: [] });
const lease = { leaseMs: 30_000, token: 'tok' };

test('a conversation keeps the id and assistant it was created with; one from before has none', async () => {
  const store = createConversationStore(db.pool);
  const id = randomUUID();
  const created = await store.createHeld(u1001, lease, [{ role: 'user', content: 'hi' }], {
    conversationId: id,
    assistant: { assistant: 'shop-support', variant: 'v2' },
  });
  expect(created.conversationId).toBe(id);
  expect(await store.assistantOf(id)).toEqual({ assistant: 'shop-support', variant: 'v2' });
  const old = await store.createHeld(u1001, lease, [{ role: 'user', content: 'hi' }]);
  expect(await store.assistantOf(old.conversationId)).toBeUndefined();
  // Adopting gives one from before an assistant; one that has an assistant keeps it.
  await store.adoptAssistant(old.conversationId, { assistant: 'ops', variant: 'default' });
  await store.adoptAssistant(old.conversationId, { assistant: 'other', variant: 'x' });
  await store.adoptAssistant(id, { assistant: 'other', variant: 'x' });
  expect(await store.assistantOf(old.conversationId)).toEqual({ assistant: 'ops', variant: 'default' });
  expect(await store.assistantOf(id)).toEqual({ assistant: 'shop-support', variant: 'v2' });
});

test('audit records carry the assistant and variant of their conversation', async () => {
  const store = createConversationStore(db.pool);
  const ledger = createExecutionLedger(db.pool);
  const id = randomUUID();
  await store.createHeld(u1001, lease, [{ role: 'user', content: 'hi' }], {
    conversationId: id,
    assistant: { assistant: 'ops', variant: 'default' },
  });
  const execution = (conversationId: string, toolCallId: string): ExecutionStart => ({
    requestId: 'req_1',
    conversationId,
    toolCallId,
    toolName: 'get_order_detail',
    userId: 'u_1001',
    tenantId: 't_demo',
    sideEffect: 'read',
    idempotencyKey: `k:${toolCallId}`,
    toolAddress: '127.0.0.1:50061',
    maskedArgumentsJson: '{}',
  });
  const finish = await ledger.start(execution(id, 'call_started'));
  await finish({ success: true, resultCode: 'OK', durationMs: 3, cached: false });
  await ledger.record(execution(id, 'call_cached'), {
    success: true,
    resultCode: 'OK',
    durationMs: 0,
    cached: true,
  });
  // No such conversation (or one from before): recorded all the same, without an assistant.
  await ledger.record(execution(randomUUID(), 'call_orphan'), {
    success: true,
    resultCode: 'OK',
    durationMs: 0,
    cached: true,
  });
  const { rows } = await db.pool.query(
    `SELECT tool_call_id, assistant, variant, duration_ms, cached FROM orchestrator.audit_log
      WHERE tool_call_id LIKE 'call_%' ORDER BY tool_call_id`,
  );
  expect(rows).toEqual([
    { tool_call_id: 'call_cached', assistant: 'ops', variant: 'default', duration_ms: 0, cached: true },
    { tool_call_id: 'call_orphan', assistant: null, variant: null, duration_ms: 0, cached: true },
    { tool_call_id: 'call_started', assistant: 'ops', variant: 'default', duration_ms: 3, cached: false },
  ]);
});

test('usage per turn is summed per tenant, assistant, variant and model over a range', async () => {
  const clock = createManualClock({ start: Date.UTC(2026, 5, 1) });
  const usage = createUsageStore(db.pool, { clock });
  const conversation = [randomUUID(), randomUUID()];
  const turn = (over: Partial<TurnUsageRow>): TurnUsageRow => ({
    tenantId: 't_demo',
    userId: 'u_1001',
    conversationId: conversation[0] as string,
    assistant: 'shop-support',
    variant: 'v1',
    model: 'gpt-a',
    promptTokens: 100,
    completionTokens: 10,
    modelCalls: 2,
    ...over,
  });
  await usage.record(turn({}));
  await usage.record(turn({}));
  await usage.record(turn({ conversationId: conversation[1] as string }));
  await usage.record(turn({ variant: 'v2', model: 'gpt-b' }));
  await usage.record(turn({ tenantId: 't_acme', assistant: 'ops' }));
  await clock.advance(86_400_000);
  await usage.record(turn({})); // the next day, outside the range below
  const range = { from: new Date(Date.UTC(2026, 5, 1)), to: new Date(Date.UTC(2026, 5, 2)) };
  const all = await usage.summarize(range);
  expect(all).toEqual([
    {
      tenantId: 't_acme',
      assistant: 'ops',
      variant: 'v1',
      model: 'gpt-a',
      turns: 1,
      conversations: 1,
      promptTokens: 100,
      completionTokens: 10,
      totalTokens: 110,
      modelCalls: 2,
    },
    {
      tenantId: 't_demo',
      assistant: 'shop-support',
      variant: 'v1',
      model: 'gpt-a',
      turns: 3,
      conversations: 2,
      promptTokens: 300,
      completionTokens: 30,
      totalTokens: 330,
      modelCalls: 6,
    },
    expect.objectContaining({ tenantId: 't_demo', variant: 'v2', model: 'gpt-b', turns: 1 }),
  ]);
  expect((await usage.summarize({ ...range, tenantId: 't_acme' })).map((r) => r.assistant)).toEqual(['ops']);
  expect((await usage.summarize({ ...range, assistant: 'ops' })).map((r) => r.tenantId)).toEqual(['t_acme']);
  const later = await usage.summarize({ from: range.to, to: new Date(Date.UTC(2026, 5, 3)) });
  expect(later.map((r) => r.turns)).toEqual([1]);
});
