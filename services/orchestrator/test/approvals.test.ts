// Server-owned approvals in process: a write is only proposed; the user's Confirm runs
// exactly the stored arguments once; expiry is a fact of the manual clock.
import { Code, ConnectError } from '@connectrpc/connect';
import { StopReason } from '@toolmesh/proto';
import type { ModelRequest } from '../src/model/index.ts';
import { toolCall } from './support/scripted-model.ts';
import { createTestEngine, lastToolResults, principal, turnOf } from './support/test-engine.ts';
import type { WorldTool } from './support/tool-world.ts';

const ticketSchema = {
  type: 'object',
  properties: {
    order_id: { type: 'string' },
    category: { type: 'string' },
    description: { type: 'string' },
  },
  required: ['order_id', 'category', 'description'],
  additionalProperties: false,
};

function ticketWorld() {
  const tickets: Record<string, unknown>[] = [];
  const createTicket: WorldTool = {
    name: 'create_ticket',
    permission: 'ticket:write',
    sideEffect: 'write',
    schema: ticketSchema,
    run: (args) => {
      tickets.push(args);
      return { ticket_id: `T${tickets.length}` };
    },
  };
  return { tickets, tools: [createTicket] };
}

// Asked to, proposes a ticket (keys deliberately unsorted); otherwise answers.
const proposeTicket = (r: ModelRequest, step: number) =>
  step === 0 && r.messages.findLast((m) => m.role === 'user')?.content === 'open a ticket'
    ? {
        content: 'I can open a ticket.',
        toolCalls: [
          toolCall('create_ticket', {
            description: 'Where is my parcel?',
            order_id: '202604100018',
            category: 'delivery',
          }),
        ],
      }
    : { content: 'ticket handled' };

function setup(options: { approvalTtlSeconds?: number } = {}) {
  const world = ticketWorld();
  const t = createTestEngine({ tools: world.tools, script: proposeTicket, ...options });
  return { ...t, tickets: world.tickets };
}

async function propose(t: ReturnType<typeof setup>) {
  const res = await t.engine.chat(turnOf(), '', 'open a ticket');
  const action = res.pendingActions[0];
  if (!action) throw new Error('no pending action');
  return { res, action };
}

test('a write tool call becomes a pending action; nothing is executed', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  expect(res.stopReason).toBe(StopReason.AWAITING_CONFIRMATION);
  expect(res.reply).toBe(
    'I can open a ticket.\n\nWaiting for your approval: create_ticket(description=Where is my parcel?, order_id=202604100018, category=delivery).',
  );
  expect(action).toMatchObject({
    toolName: 'create_ticket',
    argumentsJson: '{"category":"delivery","description":"Where is my parcel?","order_id":"202604100018"}',
  });
  expect(res.toolExecutions).toEqual([]);
  expect(t.world.invocations).toHaveLength(0);
  expect(t.tickets).toHaveLength(0);
  expect(t.model.requests).toHaveLength(1);
});

test('approval executes exactly the stored arguments, once, as the user, with a key bound to them', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  const done = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, true);
  expect(done.reply).toBe('ticket handled');
  expect(done.stopReason).toBe(StopReason.COMPLETED);
  expect(done.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
  expect(t.tickets).toEqual([
    { category: 'delivery', description: 'Where is my parcel?', order_id: '202604100018' },
  ]);
  const [invocation] = t.world.invocations;
  expect(invocation?.argumentsJson).toBe(action.argumentsJson);
  expect(invocation?.principal?.userId).toBe('u_1001');
  expect(invocation?.idempotencyKey).toMatch(
    new RegExp(`^${res.conversationId}:${action.actionId}:[0-9a-f]{64}$`),
  );
  // The model read the result, not a second proposal.
  expect(lastToolResults(t.model.requests.at(-1))).toEqual([
    { id: expect.any(String), content: '{"ticket_id":"T1"}' },
  ]);
  expect(t.ledger.audit.map((a) => [a.start.toolName, a.start.approver, a.end.resultCode])).toEqual([
    ['create_ticket', 'u_1001', 'OK'],
  ]);
});

test('a repeated Confirm answers the first result; nothing runs twice', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  const first = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, true);
  const calls = t.model.requests.length;
  const again = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, true);
  const flipped = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, false);
  expect(again).toEqual(first);
  expect(flipped).toEqual(first);
  expect(t.tickets).toHaveLength(1);
  expect(t.world.invocations).toHaveLength(1);
  expect(t.model.requests).toHaveLength(calls);
});

test('decline: nothing runs, the model is told, the decision is final', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  const declined = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, false);
  expect(declined.reply).toBe('ticket handled');
  expect(declined.toolExecutions).toEqual([]);
  expect(t.world.invocations).toHaveLength(0);
  expect(lastToolResults(t.model.requests.at(-1))[0]?.content).toContain('DECLINED');
  const approveLater = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, true);
  expect(approveLater).toEqual(declined);
  expect(t.tickets).toHaveLength(0);
});

test('an expired approval is FAILED_PRECONDITION and never runs', async () => {
  const t = setup({ approvalTtlSeconds: 60 });
  const { res, action } = await propose(t);
  await t.clock.advance(60_000);
  const error = await t.engine
    .confirm(turnOf(), res.conversationId, action.actionId, true)
    .catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConnectError);
  expect((error as ConnectError).code).toBe(Code.FailedPrecondition);
  expect(t.world.invocations).toHaveLength(0);
  expect((await t.actions.get(action.actionId))?.status).toBe('expired');
  const stored = await t.conversations.load(res.conversationId);
  expect(stored.at(-1)).toMatchObject({ role: 'tool', content: expect.stringContaining('EXPIRED') });
});

test('one second before expiry the approval still runs', async () => {
  const t = setup({ approvalTtlSeconds: 60 });
  const { res, action } = await propose(t);
  await t.clock.advance(59_000);
  const done = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, true);
  expect(done.toolExecutions[0]?.success).toBe(true);
  expect(t.tickets).toHaveLength(1);
});

test('only the user who asked may decide; unknown actions are NOT_FOUND', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  const stranger = await t.engine
    .confirm(turnOf(principal('u_2002')), res.conversationId, action.actionId, true)
    .catch((e: unknown) => e);
  expect((stranger as ConnectError).code).toBe(Code.PermissionDenied);
  const elsewhere = await t.engine
    .confirm(turnOf(), '00000000-0000-4000-8000-000000000000', action.actionId, true)
    .catch((e: unknown) => e);
  expect((elsewhere as ConnectError).code).toBe(Code.NotFound);
  expect(t.world.invocations).toHaveLength(0);
  expect((await t.actions.get(action.actionId))?.status).toBe('pending');
});

test('a new message instead of a decision closes the action unexecuted', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  const next = await t.engine.chat(turnOf(), res.conversationId, 'never mind');
  expect(next.pendingActions).toEqual([]);
  expect((await t.actions.get(action.actionId))?.status).toBe('superseded');
  const prompt = t.model.requests.at(-1)?.messages ?? [];
  expect(prompt.find((m) => m.role === 'tool')?.content).toContain('NOT_CONFIRMED');
  const late = await t.engine
    .confirm(turnOf(), res.conversationId, action.actionId, true)
    .catch((e: unknown) => e);
  expect((late as ConnectError).code).toBe(Code.FailedPrecondition);
  expect(t.tickets).toHaveLength(0);
});

test('concurrent Confirms of one action: one runs it, the others are ABORTED or get its result', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  const confirm = () =>
    t.engine.confirm(turnOf(), res.conversationId, action.actionId, true).then(
      (r) => r.reply,
      (e: ConnectError) => Code[e.code],
    );
  const results = await Promise.all([confirm(), confirm(), confirm(), confirm()]);
  expect(results.filter((r) => r === 'ticket handled').length).toBeGreaterThanOrEqual(1);
  expect(results.every((r) => r === 'ticket handled' || r === 'Aborted')).toBe(true);
  expect(t.tickets).toHaveLength(1);
  expect(await confirm()).toBe('ticket handled');
});
