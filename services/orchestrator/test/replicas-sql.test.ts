// Several orchestrator replicas on one real Postgres, racing: three reconcilers over the
// same stale rows execute each interrupted approved write once and mark each interrupted
// read unknown once; what a live (slow) replica runs is left to it until it dies; two
// Confirms of one action at two replicas execute it once; a Confirm at another replica
// than the turn's answers as on one; two replicas looking at one finished task tell it
// once; a dead replica's idempotency claim is taken over, a live one's is not.
import { create, toJson } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock, type ManualClock } from '@toolmesh/clock';
import { PrincipalSchema, TaskService, TaskStatus } from '@toolmesh/proto';
import { createServer, type Server, serviceRegistration } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { closeUndecided } from '../src/approvals/index.ts';
import type { ModelRequest } from '../src/model/index.ts';
import { hashArguments } from '../src/store/index.ts';
import { createTaskResultCollector } from '../src/tools/index.ts';
import { toolCall } from './support/scripted-model.ts';
import { createSqlReplica, type SqlReplica } from './support/sql-replica.ts';
import { principal, turnOf, until } from './support/test-engine.ts';
import { createToolWorld, type Gate, gate, type ToolWorld, type WorldTool } from './support/tool-world.ts';
import { useOrchestratorDatabase } from './support/use-orchestrator-database.ts';

const db = useOrchestratorDatabase();

const u1001 = principal();
const staleMs = 120_000;
const intervalMs = 30_000;
// A replica counts as alive for three intervals after its beat (see aliveMsFor).
const aliveMs = 3 * intervalMs;

const script = (r: ModelRequest, step: number) =>
  step === 0 && r.messages.findLast((m) => m.role === 'user')?.content === 'open a ticket'
    ? { toolCalls: [toolCall('create_ticket', { order_id: '202604100018', category: 'other' })] }
    : { content: 'ticket handled' };

/** A ticket tool whose tickets are counted by description; `hold` keeps calls open until opened. */
function ticketWorld(hold?: Gate) {
  const tickets: string[] = [];
  const createTicket: WorldTool = {
    name: 'create_ticket',
    permission: 'ticket:write',
    sideEffect: 'write',
    run: async (args) => {
      await hold?.promise;
      tickets.push(String(args.description ?? ''));
      return { ticket_id: `T${tickets.length}` };
    },
  };
  const slowRead: WorldTool = { name: 'get_order_detail', permission: 'order:read', run: () => ({}) };
  return { tickets, world: createToolWorld([createTicket, slowRead]) };
}

const replicasOn = (clock: ManualClock, world: ToolWorld, n: number) =>
  Array.from({ length: n }, () =>
    createSqlReplica({ pool: db.pool, clock, world, script, staleMs, intervalMs }),
  );

/** What a replica that dies mid-write leaves in SQL: an approved action executing, its execution running. */
async function leaveApprovedWrite(
  holder: SqlReplica,
  world: ToolWorld,
  description: string,
  landed: boolean,
  recorded = false,
) {
  const args = { category: 'other', description, order_id: '202604100018' };
  const argumentsJson = JSON.stringify(args);
  const callId = `call_${description}`;
  const { conversationId } = await holder.conversations.createHeld(
    u1001,
    { leaseMs: 30_000, token: `holder-${description}` },
    [
      { role: 'user', content: 'open a ticket' },
      {
        role: 'assistant',
        content: null,
        toolCalls: [{ id: callId, name: 'create_ticket', arguments: argumentsJson }],
      },
    ],
  );
  const action = await holder.actions.create({
    conversationId,
    tenantId: u1001.tenantId,
    userId: u1001.userId,
    toolName: 'create_ticket',
    toolCallId: callId,
    argumentsJson,
    maskedArgumentsJson: argumentsJson,
    summary: `create_ticket(${description})`,
    ttlSeconds: 900,
    principal: toJson(PrincipalSchema, u1001),
  });
  expect(await holder.actions.claim(action.actionId, 'executing', u1001.userId)).toBe(true);
  const idempotencyKey = `${conversationId}:${action.actionId}:${hashArguments(argumentsJson)}`;
  const finish = await holder.ledger.start({
    requestId: 'r',
    conversationId,
    toolCallId: callId,
    toolName: 'create_ticket',
    userId: u1001.userId,
    tenantId: u1001.tenantId,
    sideEffect: 'write',
    idempotencyKey,
    toolAddress: 'in-process',
    actionId: action.actionId,
    maskedArgumentsJson: argumentsJson,
    approver: u1001.userId,
  });
  if (landed) {
    // The write reached the tool service before its orchestrator died.
    const endpoint = world.registry.get('create_ticket')?.endpoints[0];
    const answer = await endpoint?.client.invokeTool({
      toolCallId: callId,
      toolName: 'create_ticket',
      argumentsJson,
      idempotencyKey,
    });
    if (recorded && answer?.outcome.case === 'resultJson') {
      // ... and even its result was stored (ledger end and result message commit together).
      await Promise.all([
        finish({ success: true, resultCode: 'OK', durationMs: 1, cached: false }),
        holder.conversations.append(conversationId, [
          { role: 'tool', toolCallId: callId, content: answer.outcome.value },
        ]),
      ]);
    }
  }
  return { conversationId, actionId: action.actionId, idempotencyKey, callId };
}

/** A read running at `holder`. */
async function leaveRead(holder: SqlReplica, name: string) {
  await holder.ledger.start({
    requestId: 'r',
    conversationId: crypto.randomUUID(),
    toolCallId: name,
    toolName: 'get_order_detail',
    userId: u1001.userId,
    tenantId: u1001.tenantId,
    sideEffect: 'read',
    idempotencyKey: name,
    toolAddress: 'in-process',
    maskedArgumentsJson: '{}',
  });
}

const statusOf = async (actionId: string) =>
  (
    await db.pool.query<{ status: string }>(
      'SELECT status FROM orchestrator.pending_actions WHERE action_id = $1',
      [actionId],
    )
  ).rows[0]?.status;

const executionStatuses = async (column: 'action_id' | 'tool_call_id', value: string) =>
  (
    await db.pool.query<{ status: string }>(
      `SELECT status FROM orchestrator.tool_executions WHERE ${column} = $1 ORDER BY created_at, status`,
      [value],
    )
  ).rows.map((r) => r.status);

test('three reconcilers racing over the same stale rows: each approved write executed once, each read marked unknown once, a live replica left alone until it dies', async () => {
  const clock = createManualClock();
  const { tickets, world } = ticketWorld();
  const [dead, slow] = replicasOn(clock, world, 2) as [SqlReplica, SqlReplica];
  await dead.replicas.beat(aliveMs);
  await slow.replicas.beat(aliveMs);
  // The dead replica leaves four approved writes (two reached the tool service) and three reads.
  const writes = [
    await leaveApprovedWrite(dead, world, 'w1', true),
    await leaveApprovedWrite(dead, world, 'w2', false),
    await leaveApprovedWrite(dead, world, 'w3', true),
    await leaveApprovedWrite(dead, world, 'w4', false),
  ];
  for (const name of ['r1', 'r2', 'r3']) await leaveRead(dead, name);
  // The slow replica is alive, with a write and a read still running.
  const slowWrite = await leaveApprovedWrite(slow, world, 'slow', false);
  await leaveRead(slow, 'slow-read');
  expect(tickets.sort()).toEqual(['w1', 'w3']);

  await clock.advance(staleMs + 1);
  await slow.replicas.beat(aliveMs);
  const three = replicasOn(clock, world, 3);
  await Promise.all(three.map((r) => r.reconciler.runOnce()));

  // Each stale row was marked unknown by exactly one of the three.
  const marked = three.flatMap((r) => r.markedUnknown.map((e) => e.toolCallId));
  expect(marked.sort()).toEqual(['call_w1', 'call_w2', 'call_w3', 'call_w4', 'r1', 'r2', 'r3']);
  // Each write: one ticket, sent once more by one reconciler with its key, one result, executed.
  expect(tickets.sort()).toEqual(['w1', 'w2', 'w3', 'w4']);
  for (const w of writes) {
    const sent = world.invocations.filter((i) => i.idempotencyKey === w.idempotencyKey);
    expect(sent).toHaveLength(['w1', 'w3'].some((d) => w.callId.endsWith(d)) ? 2 : 1);
    expect(await statusOf(w.actionId)).toBe('executed');
    expect(await executionStatuses('action_id', w.actionId)).toEqual(['unknown', 'done']);
    const results = (await three[0]?.conversations.load(w.conversationId))?.filter((m) => m.role === 'tool');
    expect(results).toHaveLength(1);
  }
  // The live replica's work is its own, however long it takes.
  expect(await statusOf(slowWrite.actionId)).toBe('executing');
  expect(await executionStatuses('tool_call_id', 'slow-read')).toEqual(['running']);
  expect(world.invocations.filter((i) => i.idempotencyKey === slowWrite.idempotencyKey)).toHaveLength(0);

  // Passes again change nothing.
  const sentBefore = world.invocations.length;
  await Promise.all(three.map((r) => r.reconciler.runOnce()));
  expect(world.invocations).toHaveLength(sentBefore);

  // The slow replica dies (stops beating): its rows go to the others, once.
  await clock.advance(aliveMs + 1);
  await Promise.all(three.map((r) => r.reconciler.runOnce()));
  await Promise.all(three.map((r) => r.reconciler.runOnce()));
  const markedLater = three.flatMap((r) => r.markedUnknown.map((e) => e.toolCallId)).slice(marked.length);
  expect(markedLater.sort()).toEqual(['call_slow', 'slow-read']);
  expect(tickets.filter((t) => t === 'slow')).toHaveLength(1);
  expect(world.invocations.filter((i) => i.idempotencyKey === slowWrite.idempotencyKey)).toHaveLength(1);
  expect(await statusOf(slowWrite.actionId)).toBe('executed');
});

test('replicas claiming at once get disjoint actions; a reconcile of an action finished meanwhile sends nothing', async () => {
  const clock = createManualClock();
  const { tickets, world } = ticketWorld();
  const [dead] = replicasOn(clock, world, 1) as [SqlReplica];
  const writes = [];
  for (const d of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'])
    writes.push(await leaveApprovedWrite(dead, world, d, false));
  await clock.advance(staleMs + 1);
  const three = replicasOn(clock, world, 3);
  await three[0]?.ledger.markStaleAsUnknown(staleMs);
  const claims = await Promise.all(three.map((r) => r.actions.claimStale(staleMs, r.ledger.owner, 60_000)));
  const claimed = claims.flat().map((a) => a.actionId);
  expect(claimed.sort()).toEqual(writes.map((w) => w.actionId).sort());
  // A listing taken before another replica finished the action: under the lease it is seen done.
  const [a, b] = three as [SqlReplica, SqlReplica];
  const record = claims.flat()[0];
  if (!record) throw new Error('nothing claimed');
  await a.engine.reconcileAction(record, new AbortController().signal);
  const sent = world.invocations.length;
  await b.engine.reconcileAction(record, new AbortController().signal);
  expect(world.invocations).toHaveLength(sent);
  expect(tickets).toHaveLength(1);
  // The rest finished, once each, so the next tests start clean.
  for (const other of claims.flat().slice(1))
    await a.engine.reconcileAction(other, new AbortController().signal);
  expect(tickets).toHaveLength(6);
});

test('an interrupted write whose conversation another turn still holds is retried by any replica once the lease is over', async () => {
  const clock = createManualClock();
  const { tickets, world } = ticketWorld();
  const [dead] = replicasOn(clock, world, 1) as [SqlReplica];
  const write = await leaveApprovedWrite(dead, world, 'held', false);
  // Someone holds the conversation well past staleness (a lease renewed by a live turn).
  await dead.conversations.renew(write.conversationId, staleMs + aliveMs, `holder-held`);
  await clock.advance(staleMs + 1);
  const three = replicasOn(clock, world, 3);
  await Promise.all(three.map((r) => r.reconciler.runOnce()));
  expect(tickets).toEqual([]);
  expect(await statusOf(write.actionId)).toBe('executing');
  // The claim was given back: the lease over, whichever replica looks next finishes it, once.
  await clock.advance(aliveMs);
  await Promise.all(three.map((r) => r.reconciler.runOnce()));
  expect(tickets).toEqual(['held']);
  expect(await statusOf(write.actionId)).toBe('executed');
});

test('Confirms of one action at two replicas at once execute it once; a Confirm at another replica answers as on one', async () => {
  const clock = createManualClock();
  const hold = gate();
  const { tickets, world } = ticketWorld(hold);
  const [a, b, c] = replicasOn(clock, world, 3) as [SqlReplica, SqlReplica, SqlReplica];
  const proposal = await a.engine.chat(turnOf(), '', 'open a ticket');
  const action = proposal.pendingActions[0];
  if (!action) throw new Error('no pending action');
  const confirmAt = (r: SqlReplica) =>
    r.engine.confirm(turnOf(), proposal.conversationId, action.actionId, true).then(
      (response) => response.reply,
      (error: unknown) => Code[ConnectError.from(error).code],
    );
  const atB = confirmAt(b);
  const atC = confirmAt(c);
  await until(() => world.invocations.length === 1, 'the write was sent');
  hold.open();
  const answers = await Promise.all([atB, atC]);
  expect(answers.sort()).toEqual(['Aborted', 'ticket handled']);
  expect(world.invocations).toHaveLength(1);
  expect(tickets).toHaveLength(1);
  // Asked again anywhere, the stored answer: nothing more runs.
  const again = await a.engine.confirm(turnOf(), proposal.conversationId, action.actionId, true);
  expect(again.reply).toBe('ticket handled');
  expect(again.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
  expect(world.invocations).toHaveLength(1);

  // Proposed at one replica, declined at another: as on one, nothing runs.
  const second = await c.engine.chat(turnOf(), proposal.conversationId, 'open a ticket');
  const other = second.pendingActions[0];
  if (!other) throw new Error('no pending action');
  const declined = await a.engine.confirm(turnOf(), second.conversationId, other.actionId, false);
  expect(declined.toolExecutions).toEqual([]);
  expect(world.invocations).toHaveLength(1);
  // Another user learns nothing, at any replica.
  const stranger = await b.engine
    .confirm(turnOf(principal('u_2002')), second.conversationId, other.actionId, true)
    .catch((error: unknown) => ConnectError.from(error).code);
  expect(stranger).toBe(Code.NotFound);
});

test('waiting actions closed by two replicas at once get one message each', async () => {
  const clock = createManualClock();
  const { world } = ticketWorld();
  const [a, b] = replicasOn(clock, world, 2) as [SqlReplica, SqlReplica];
  const proposal = await a.engine.chat(turnOf(), '', 'open a ticket');
  expect(proposal.pendingActions).toHaveLength(1);
  const closer = (r: SqlReplica) =>
    closeUndecided({ actions: r.actions, conversations: r.conversations, clock }, proposal.conversationId);
  await Promise.all([closer(a), closer(b)]);
  const results = (await a.conversations.load(proposal.conversationId)).filter((m) => m.role === 'tool');
  expect(results).toHaveLength(1);
  expect(await statusOf(proposal.pendingActions[0]?.actionId ?? '')).toBe('superseded');
});

describe('a finished task', () => {
  let server: Server;
  let address: string;
  const taskId = `task_${'a'.repeat(32)}`;
  let asked = 0;

  beforeAll(async () => {
    const logger = createLogger({ service: 'task-test', level: 'silent' });
    server = createServer({
      logger,
      services: [
        serviceRegistration(TaskService, {
          getTask: () => {
            asked++;
            return {
              task: {
                taskId,
                toolName: 'export_order_report',
                status: TaskStatus.SUCCEEDED,
                resultJson: '{"rows":3}',
              },
            };
          },
          async *watchTask() {},
        }),
      ],
    });
    address = `127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
    server.health.setAll(true);
  });

  afterAll(async () => {
    await server?.shutdown(1_000);
  });

  test('is told to its conversation once when two replicas look at once', async () => {
    const clock = createManualClock();
    const { world } = ticketWorld();
    const [a, b] = replicasOn(clock, world, 2) as [SqlReplica, SqlReplica];
    const conversationId = crypto.randomUUID();
    await a.ledger.record(
      {
        requestId: 'r',
        conversationId,
        toolCallId: 'call_task',
        toolName: 'export_order_report',
        userId: u1001.userId,
        tenantId: u1001.tenantId,
        sideEffect: 'read',
        idempotencyKey: 'k',
        toolAddress: address,
        maskedArgumentsJson: '{}',
      },
      { success: true, resultCode: 'OK', durationMs: 1, cached: false, taskId },
    );
    const collectorOf = (r: SqlReplica) =>
      createTaskResultCollector({
        ledger: r.ledger,
        logger: r.logger,
        maxChars: 1_000,
        credentials: { forCall: async () => ({}), forTask: async () => ({}), forRegistry: async () => ({}) },
      });
    const [atA, atB] = await Promise.all([
      collectorOf(a)(conversationId, u1001),
      collectorOf(b)(conversationId, u1001),
    ]);
    expect(asked).toBe(2);
    expect([...atA, ...atB].map((n) => n.content)).toEqual([
      `Task ${taskId} (export_order_report) finished. Result: {"rows":3}`,
    ]);
    expect(await collectorOf(b)(conversationId, u1001)).toEqual([]);
  });
});

test("an idempotency key claimed by a replica that died is taken over by the retry; a live replica's is not", async () => {
  const clock = createManualClock();
  const { world } = ticketWorld();
  const [dead, live, retrying] = replicasOn(clock, world, 3) as [SqlReplica, SqlReplica, SqlReplica];
  const owner = create(PrincipalSchema, { userId: 'u_1001', tenantId: 't_demo' });
  await dead.replicas.beat(aliveMs);
  await live.replicas.beat(aliveMs);
  const request = { message: 'hello' };
  expect(await dead.chatRequests.claim(owner, 'k-dead', request)).toEqual({ state: 'new' });
  expect(await live.chatRequests.claim(owner, 'k-live', request)).toEqual({ state: 'new' });
  expect(await retrying.chatRequests.claim(owner, 'k-dead', request)).toEqual({ state: 'in_progress' });
  await clock.advance(aliveMs + 1);
  await live.replicas.beat(aliveMs);
  expect(await retrying.chatRequests.claim(owner, 'k-live', request)).toEqual({ state: 'in_progress' });
  expect(await retrying.chatRequests.claim(owner, 'k-dead', { message: 'other' })).toEqual({
    state: 'mismatch',
  });
  // Two retries at once: one runs the turn.
  const [one, two] = await Promise.all([
    retrying.chatRequests.claim(owner, 'k-dead', request),
    live.chatRequests.claim(owner, 'k-dead', request),
  ]);
  expect([one?.state, two?.state].sort()).toEqual(['in_progress', 'new']);
});

test('a replica that died after its write was recorded: the model goes on, the tool is not called again', async () => {
  const clock = createManualClock();
  const { tickets, world } = ticketWorld();
  const [dead, next] = replicasOn(clock, world, 2) as [SqlReplica, SqlReplica];
  const w = await leaveApprovedWrite(dead, world, 'recorded', true, true);
  expect(tickets).toEqual(['recorded']);

  await clock.advance(staleMs + 1);
  await next.reconciler.runOnce();

  // Sent once (by the dead replica), one ledger row, one result; the action answered.
  expect(world.invocations.filter((i) => i.idempotencyKey === w.idempotencyKey)).toHaveLength(1);
  expect(tickets).toEqual(['recorded']);
  expect(await executionStatuses('action_id', w.actionId)).toEqual(['done']);
  expect(await statusOf(w.actionId)).toBe('executed');
  const messages = (await next.conversations.load(w.conversationId)) ?? [];
  expect(messages.filter((m) => m.role === 'tool')).toHaveLength(1);
  expect(messages.at(-1)).toEqual({ role: 'assistant', content: 'ticket handled', toolCalls: [] });
});
