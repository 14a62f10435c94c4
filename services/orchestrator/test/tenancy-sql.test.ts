// Tenancy in the SQL stores: everything owned is owned by (tenant, user). The same user
// id in another tenant is another person: it cannot continue a conversation, see a
// pending action or a task, or replay an idempotent response; and migration 4 gives
// the rows written before it the tenant of their conversation. Real Postgres.
import { create } from '@bufbuild/protobuf';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { PrincipalSchema } from '@toolmesh/proto';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import {
  createChatRequestStore,
  createConversationStore,
  createExecutionLedger,
  createPendingActionStore,
  type ExecutionStart,
  migrations,
  schema,
} from '../src/store/index.ts';

let testDb: TestDatabase;
let db: Database;

const demo = create(PrincipalSchema, { userId: 'u_1001', tenantId: 't_demo', permissions: [] });
const other = create(PrincipalSchema, { userId: 'u_1001', tenantId: 't_other', permissions: [] });
const lease = (token: string) => ({ leaseMs: 30_000, token });

// Rows as versions 1–3 wrote them, before tenants were everywhere.
const legacy = {
  conversation: '00000000-0000-4000-8000-0000000000c1',
  action: '00000000-0000-4000-8000-0000000000a1',
  orphanConversation: '00000000-0000-4000-8000-0000000000c9',
};

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema, migrations: migrations.filter((m) => m.version <= 3) });
  const q = (sql: string, params: unknown[] = []) => db.pool.query(sql, params);
  await q(
    `INSERT INTO orchestrator.conversations (conversation_id, user_id, tenant_id) VALUES ($1, 'u_1001', 't_demo')`,
    [legacy.conversation],
  );
  await q(
    `INSERT INTO orchestrator.pending_actions (action_id, conversation_id, user_id, tool_name, tool_call_id,
       arguments_json, arguments_hash, summary, status, expires_at)
     VALUES ($1, $2, 'u_1001', 'create_ticket', 'c1', '{"password":"p","order_id":"1"}', 'h', 's', 'pending',
             now() + interval '1 hour')`,
    [legacy.action, legacy.conversation],
  );
  const execution = `INSERT INTO orchestrator.tool_executions (execution_id, owner, request_id, conversation_id,
      tool_call_id, tool_name, user_id, side_effect, idempotency_key, status, task_id, tool_address)
    VALUES (gen_random_uuid(), 'dead', 'r', $1, $2, 'export_order_report', 'u_1001', 'read', 'k', 'done', $3, 'x')`;
  await q(execution, [legacy.conversation, 'call_1', 'task_legacy']);
  // No conversation row, but an audit record that names the tenant.
  await q(execution, [legacy.orphanConversation, 'call_2', 'task_orphan']);
  await q(
    `INSERT INTO orchestrator.audit_log (request_id, user_id, tenant_id, conversation_id, tool_call_id, tool_name,
       arguments_json, result_code, duration_ms)
     VALUES ('r', 'u_1001', 't_x', $1, 'call_2', 'export_order_report', '{}', 'OK', 1)`,
    [legacy.orphanConversation],
  );
  const request = `INSERT INTO orchestrator.chat_requests (user_id, idempotency_key, request_hash, response)
    VALUES ('u_1001', $1, 'h', $2)`;
  await q(request, ['done-key', JSON.stringify({ conversationId: legacy.conversation, reply: 'hi' })]);
  await q(request, ['running-key', null]);
  await q(request, ['unattributable-key', JSON.stringify({ conversationId: legacy.orphanConversation })]);
  await migrate(db.pool, { schema, migrations });
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

test('migration 4 gives rows written before it the tenant of their conversation, and fails closed otherwise', async () => {
  const one = async (sql: string, params: unknown[] = []) => (await db.pool.query(sql, params)).rows;
  expect(
    await one('SELECT tenant_id FROM orchestrator.pending_actions WHERE action_id = $1', [legacy.action]),
  ).toEqual([{ tenant_id: 't_demo' }]);
  expect(await one('SELECT task_id, tenant_id FROM orchestrator.tool_executions ORDER BY task_id')).toEqual([
    { task_id: 'task_legacy', tenant_id: 't_demo' },
    { task_id: 'task_orphan', tenant_id: 't_x' },
  ]);
  expect(
    await one('SELECT idempotency_key, tenant_id FROM orchestrator.chat_requests ORDER BY idempotency_key'),
  ).toEqual([
    { idempotency_key: 'done-key', tenant_id: 't_demo' },
    // Its conversation is unknown: the empty tenant, which nobody owns.
    { idempotency_key: 'unattributable-key', tenant_id: '' },
  ]);
  // The old done response replays for its owner only.
  const requests = createChatRequestStore(db.pool);
  expect(await requests.claim(demo, 'done-key', {})).toEqual({ state: 'mismatch' });
  expect(await requests.claim(other, 'done-key', {})).toEqual({ state: 'new' });
  // An older pending action is shown with the always-sensitive fields masked.
  const action = await createPendingActionStore(db.pool).getOwned(legacy.action, demo);
  expect(action?.maskedArgumentsJson).toBe('{"password":"***","order_id":"1"}');
  expect(action?.argumentsJson).toBe('{"password":"p","order_id":"1"}');
});

test("another tenant's user with the same id cannot continue the conversation: not_found, as for none", async () => {
  const store = createConversationStore(db.pool);
  const { conversationId } = await store.createHeld(demo, lease('a'), [{ role: 'user', content: 'hi' }]);
  await store.release(conversationId, 'a');
  expect(await store.acquireOwned(conversationId, other, lease('b'))).toBe('not_found');
  expect(await store.acquireOwned('00000000-0000-4000-8000-00000000dead', other, lease('b'))).toBe(
    'not_found',
  );
  expect(await store.acquireOwned(conversationId, { tenantId: '', userId: 'u_1001' }, lease('b'))).toBe(
    'not_found',
  );
  expect(await store.acquireOwned(conversationId, demo, lease('b'))).toBe('acquired');
  const { rows } = await db.pool.query(
    'SELECT tenant_id, user_id FROM orchestrator.conversations WHERE conversation_id = $1',
    [conversationId],
  );
  expect(rows).toEqual([{ tenant_id: 't_demo', user_id: 'u_1001' }]);
});

test('idempotency keys are per (tenant, user): another tenant never replays the response', async () => {
  const requests = createChatRequestStore(db.pool);
  expect(await requests.claim(demo, 'k1', { message: 'order?' })).toEqual({ state: 'new' });
  expect(await requests.claim(other, 'k1', { message: 'order?' })).toEqual({ state: 'new' });
  await requests.complete(demo, 'k1', { reply: 'for t_demo' });
  await requests.complete(other, 'k1', { reply: 'for t_other' });
  expect(await requests.claim(demo, 'k1', { message: 'order?' })).toEqual({
    state: 'done',
    response: { reply: 'for t_demo' },
  });
  expect(await requests.claim(other, 'k1', { message: 'order?' })).toEqual({
    state: 'done',
    response: { reply: 'for t_other' },
  });
  // A release touches only its owner's claim.
  expect(await requests.claim(demo, 'k2', { message: 'x' })).toEqual({ state: 'new' });
  await requests.release(other, 'k2');
  expect(await requests.claim(demo, 'k2', { message: 'x' })).toEqual({ state: 'in_progress' });
});

test('a pending action is found only by its owner; the masked arguments are stored beside the real ones', async () => {
  const conversations = createConversationStore(db.pool);
  const actions = createPendingActionStore(db.pool);
  const { conversationId } = await conversations.createHeld(demo, lease('a'), []);
  const action = await actions.create({
    conversationId,
    tenantId: 't_demo',
    userId: 'u_1001',
    toolName: 'create_ticket',
    toolCallId: 'c1',
    argumentsJson: '{"phone":"+86 138"}',
    maskedArgumentsJson: '{"phone":"***"}',
    summary: 'create_ticket(phone=***)',
    ttlSeconds: 60,
    principal: {},
  });
  expect(action).toMatchObject({ tenantId: 't_demo', maskedArgumentsJson: '{"phone":"***"}' });
  expect(await actions.getOwned(action.actionId, other)).toBeUndefined();
  expect(await actions.getOwned(action.actionId, { tenantId: 't_demo', userId: 'u_2002' })).toBeUndefined();
  expect((await actions.getOwned(action.actionId, demo))?.argumentsJson).toBe('{"phone":"+86 138"}');
});

test('tasks: findTask names the tenant; findOwnedTask and unreportedTasks answer the owner only', async () => {
  const ledger = createExecutionLedger(db.pool);
  const conversationId = '00000000-0000-4000-8000-0000000000c2';
  const execution = (who: typeof demo, toolCallId: string): ExecutionStart => ({
    requestId: 'r',
    conversationId,
    toolCallId,
    toolName: 'export_order_report',
    userId: who.userId,
    tenantId: who.tenantId,
    sideEffect: 'read',
    idempotencyKey: toolCallId,
    toolAddress: `${who.tenantId}:50061`,
    maskedArgumentsJson: '{}',
  });
  const finish = await ledger.start(execution(demo, 'task_call_1'));
  await finish({ success: true, resultCode: 'OK', durationMs: 1, cached: false, taskId: 'task_a' });
  await ledger.record(execution(other, 'task_call_2'), {
    success: true,
    resultCode: 'OK',
    durationMs: 1,
    cached: false,
    taskId: 'task_b',
  });
  expect(await ledger.findOwnedTask('task_a', demo)).toEqual({
    toolAddress: 't_demo:50061',
    toolName: 'export_order_report',
    tenantId: 't_demo',
    userId: 'u_1001',
  });
  expect(await ledger.findOwnedTask('task_a', other)).toBeUndefined();
  expect(await ledger.findOwnedTask('task_b', demo)).toBeUndefined();
  expect(await ledger.findOwnedTask('task_none', demo)).toBeUndefined();
  expect((await ledger.unreportedTasks(conversationId, demo)).map((t) => t.taskId)).toEqual(['task_a']);
  expect((await ledger.unreportedTasks(conversationId, other)).map((t) => t.taskId)).toEqual(['task_b']);
  const { rows } = await db.pool.query(
    'SELECT tenant_id FROM orchestrator.audit_log WHERE tool_call_id = ANY($1) ORDER BY tool_call_id',
    [['task_call_1', 'task_call_2']],
  );
  expect(rows).toEqual([{ tenant_id: 't_demo' }, { tenant_id: 't_other' }]);
});
