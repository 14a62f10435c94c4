// Server-owned approvals in process: a write is only proposed; the user's Confirm runs
// exactly the stored arguments once; expiry is a fact of the manual clock.
import { Code, ConnectError } from '@connectrpc/connect';
import { type ChatResponse, StopReason } from '@toolmesh/proto';
import type { ModelRequest } from '../src/model/index.ts';
import { type ChatEvent, streamTurn } from '../src/turn/index.ts';
import { toolCall } from './support/scripted-model.ts';
import {
  createTestEngine,
  lastToolResults,
  principal,
  readPermissions,
  turnOf,
} from './support/test-engine.ts';
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
  expect(t.ledger.audit[0]?.start).toMatchObject({ userId: 'u_1001', tenantId: 't_demo' });
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

test('only the user who asked may decide; anyone else is told NOT_FOUND, as for an unknown action', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  const stranger = await t.engine
    .confirm(turnOf(principal('u_2002')), res.conversationId, action.actionId, true)
    .catch((e: unknown) => e);
  expect((stranger as ConnectError).code).toBe(Code.NotFound);
  // The same user id in another tenant is another user: the same answer, word for word.
  const otherTenant = await t.engine
    .confirm(turnOf(principal('u_1001', undefined, 't_other')), res.conversationId, action.actionId, true)
    .catch((e: unknown) => e);
  const unknown = await t.engine
    .confirm(turnOf(), res.conversationId, '00000000-0000-4000-8000-0000000000ff', true)
    .catch((e: unknown) => e);
  expect((otherTenant as ConnectError).code).toBe(Code.NotFound);
  expect((otherTenant as ConnectError).rawMessage).toBe((unknown as ConnectError).rawMessage);
  const declineElsewhere = await t.engine
    .confirm(turnOf(principal('u_1001', undefined, 't_other')), res.conversationId, action.actionId, false)
    .catch((e: unknown) => e);
  expect((declineElsewhere as ConnectError).code).toBe(Code.NotFound);
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

test('approving needs the permission for the tool: a read-only confirmer is PERMISSION_DENIED and the action stays pending', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  // The demo's read-only key is the same user, u_1001, with read permissions only.
  const readOnly = await t.engine
    .confirm(turnOf(principal('u_1001', readPermissions)), res.conversationId, action.actionId, true)
    .catch((e: unknown) => e);
  expect(readOnly).toBeInstanceOf(ConnectError);
  expect((readOnly as ConnectError).code).toBe(Code.PermissionDenied);
  expect((await t.actions.get(action.actionId))?.status).toBe('pending');
  expect(t.world.invocations).toHaveLength(0);
  // The approval was not spent: the user with the permission still approves it.
  const done = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, true);
  expect(done.toolExecutions.map((e) => e.success)).toEqual([true]);
  expect(t.tickets).toHaveLength(1);
});

test('declining runs nothing and needs no permission for the tool', async () => {
  const t = setup();
  const { res, action } = await propose(t);
  const declined = await t.engine.confirm(
    turnOf(principal('u_1001', readPermissions)),
    res.conversationId,
    action.actionId,
    false,
  );
  expect(declined.toolExecutions).toEqual([]);
  expect((await t.actions.get(action.actionId))?.status).toBe('declined');
  expect(t.world.invocations).toHaveLength(0);
});

test('sensitive arguments are masked in the pending-action event, summary, reply and stored action; the real ones run', async () => {
  const contacts: Record<string, unknown>[] = [];
  const updateContact: WorldTool = {
    name: 'update_contact',
    permission: 'ticket:write',
    sideEffect: 'write',
    sensitiveFields: ['phone'],
    run: (args) => {
      contacts.push(args);
      return { updated: true };
    },
  };
  const t = createTestEngine({
    tools: [updateContact],
    script: (r, step) =>
      step === 0 && r.messages.findLast((m) => m.role === 'user')?.content === 'change my phone'
        ? {
            content: 'I can update it.',
            toolCalls: [toolCall('update_contact', { order_id: '202604100018', phone: '+86 138 0013 8000' })],
          }
        : { content: 'updated' },
  });
  const events: ChatEvent[] = [];
  let res: ChatResponse | undefined;
  for await (const e of streamTurn((emit) =>
    t.engine.chat(turnOf(principal(), emit), '', 'change my phone'),
  )) {
    events.push(e);
    // The engine's own response, a whole message.
    if (e.case === 'final') res = e.value as ChatResponse;
  }
  const secret = '+86 138 0013 8000';
  const event = events.find((e) => e.case === 'pendingAction');
  expect(event?.case === 'pendingAction' && event.value.argumentsJson).toBe(
    '{"order_id":"202604100018","phone":"***"}',
  );
  expect(event?.case === 'pendingAction' && event.value.summary).toBe(
    'update_contact(order_id=202604100018, phone=***)',
  );
  expect(JSON.stringify(events, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(secret);
  const action = res?.pendingActions[0];
  if (!res || !action) throw new Error('no pending action');
  expect(res.reply).toBe(
    'I can update it.\n\nWaiting for your approval: update_contact(order_id=202604100018, phone=***).',
  );
  expect(action.argumentsJson).not.toContain(secret);
  const stored = await t.actions.get(action.actionId);
  expect(stored?.summary).not.toContain(secret);
  expect(stored?.maskedArgumentsJson).toBe('{"order_id":"202604100018","phone":"***"}');
  // What approval runs is what the model asked for, unmasked.
  expect(stored?.argumentsJson).toBe(`{"order_id":"202604100018","phone":"${secret}"}`);
  const done = await t.engine.confirm(turnOf(), res.conversationId, action.actionId, true);
  expect(contacts).toEqual([{ order_id: '202604100018', phone: secret }]);
  expect(JSON.stringify((await t.actions.get(action.actionId))?.response)).not.toContain(secret);
  expect(done.reply).toBe('updated');
  expect(t.ledger.audit[0]?.start.maskedArgumentsJson).not.toContain(secret);
});
