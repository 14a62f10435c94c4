// Reconciliation in process: what a crashed orchestrator left running is found by the
// next one's reconciler on a manual clock, and an approved write is finished through
// the tool service's idempotency record, never repeated.
import { Code, type ConnectError } from '@connectrpc/connect';
import { createReconciler } from '../src/approvals/index.ts';
import type { ModelRequest } from '../src/model/index.ts';
import { toolCall } from './support/scripted-model.ts';
import { createTestEngine, type TestEngine, turnOf, until } from './support/test-engine.ts';
import { gate, type WorldTool } from './support/tool-world.ts';

const script = (r: ModelRequest, step: number) =>
  step === 0 && r.messages.findLast((m) => m.role === 'user')?.content === 'open a ticket'
    ? { toolCalls: [toolCall('create_ticket', { order_id: '202604100018', category: 'other' })] }
    : { content: 'ticket handled' };

/** A ticket tool whose writes land only once `writeLands` is opened. */
function gatedTicketTool() {
  const tickets: unknown[] = [];
  const writeLands = gate();
  const createTicket: WorldTool = {
    name: 'create_ticket',
    permission: 'ticket:write',
    sideEffect: 'write',
    run: async (args) => {
      await writeLands.promise;
      tickets.push(args);
      return { ticket_id: `T${tickets.length}` };
    },
  };
  return { tickets, writeLands, createTicket };
}

// Proposes a ticket and sends its Confirm with `signal`; resolves once the write left.
async function confirmUntilSent(engine: TestEngine, signal: AbortSignal) {
  const proposal = await engine.engine.chat(turnOf(), '', 'open a ticket');
  const action = proposal.pendingActions[0];
  if (!action) throw new Error('no pending action');
  const confirming = engine.engine
    .confirm({ ...turnOf(), signal }, proposal.conversationId, action.actionId, true)
    .catch((e: unknown) => e);
  await until(() => engine.world.invocations.length === 1, 'the write was sent');
  return { proposal, action, confirming };
}

test('an approved write interrupted by a crash is reconciled once it is stale, not repeated', async () => {
  const { tickets, writeLands, createTicket } = gatedTicketTool();
  // The first orchestrator: it proposes, the user approves, and it dies while the write is out.
  const dead = createTestEngine({ tools: [createTicket], script });
  const crash = new AbortController();
  const { proposal, action, confirming: interrupted } = await confirmUntilSent(dead, crash.signal);
  dead.ledger.crash();
  crash.abort();
  await interrupted;
  writeLands.open();
  await until(() => tickets.length === 1, 'the write landed at the tool service');
  // As after a crash: the ledger row still running, the action executing, the conversation still leased.
  expect(dead.ledgerRows.map((r) => r.status)).toEqual(['running']);
  expect((await dead.actions.get(action.actionId))?.status).toBe('executing');
  await dead.conversations.tryAcquire(proposal.conversationId, 200_000, 'the dead holder');

  // The next orchestrator, over the same data.
  const next = createTestEngine({ tools: [], script, sharing: dead });
  const reconciler = createReconciler({
    ledger: next.ledger,
    actions: next.actions,
    engine: next.engine,
    logger: next.logger,
    staleMs: 120_000,
    intervalMs: 30_000,
    clock: next.clock,
  });
  await reconciler.runOnce();
  reconciler.start();
  // Not stale yet: nothing is touched, and Confirm says to retry.
  await next.clock.advance(90_000);
  await reconciler.runOnce();
  expect(next.ledgerRows.map((r) => r.status)).toEqual(['running']);
  const early = await next.engine
    .confirm(turnOf(), proposal.conversationId, action.actionId, true)
    .catch((e: ConnectError) => e);
  expect((early as ConnectError).code).toBe(Code.Aborted);
  // Stale, but the dead holder's lease still runs: the passes retry until it is over.
  await next.clock.advance(120_000);
  await until(() => next.ledgerRows.length === 2, 'the write was reconciled');
  await until(() => next.ledgerRows[1]?.status === 'done', 'the reconciled call finished');
  reconciler.stop();

  expect(next.ledgerRows.map((r) => r.status)).toEqual(['unknown', 'done']);
  expect(tickets).toHaveLength(1);
  const keys = next.world.invocations.map((i) => i.idempotencyKey);
  expect(keys).toHaveLength(2);
  expect(keys[1]).toBe(keys[0]);
  const answered = await next.engine.confirm(turnOf(), proposal.conversationId, action.actionId, true);
  expect(answered.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
  expect(answered.reply).toBe('ticket handled');
  const results = (await next.conversations.load(proposal.conversationId)).filter((m) => m.role === 'tool');
  expect(results).toHaveLength(1);
});

test('interrupted reads are marked unknown and nothing more; live work of this orchestrator is left alone', async () => {
  const hold = gate();
  const slowRead: WorldTool = {
    name: 'slow_read',
    permission: 'order:read',
    run: async () => {
      await hold.promise;
      return {};
    },
  };
  const readScript = (_r: ModelRequest, step: number) =>
    step === 0 ? { toolCalls: [toolCall('slow_read', {})] } : { content: 'ok' };
  const dead = createTestEngine({ tools: [slowRead], script: readScript });
  const crash = new AbortController();
  const turn = dead.engine.chat({ ...turnOf(), signal: crash.signal }, '', 'read').catch((e: unknown) => e);
  await until(() => dead.world.invocations.length === 1, 'the read was sent');
  // Cut off: its row is unknown at once (a read killed mid-call leaves no row at all).
  crash.abort();
  await turn;
  hold.open();

  const next = createTestEngine({ tools: [], script: readScript, sharing: dead });
  const ownRow = await next.ledger.start({
    ...(dead.ledgerRows[0]?.start ?? ({} as never)),
    toolCallId: 'live',
  });
  const reconciler = createReconciler({
    ledger: next.ledger,
    actions: next.actions,
    engine: next.engine,
    logger: next.logger,
    staleMs: 1_000,
    clock: next.clock,
  });
  await next.clock.advance(1_001);
  await reconciler.runOnce();
  expect(next.ledgerRows.map((r) => [r.start.toolCallId === 'live' ? 'live' : 'dead', r.status])).toEqual([
    ['dead', 'unknown'],
    ['live', 'running'],
  ]);
  await ownRow({ success: true, resultCode: 'OK', durationMs: 1, cached: false });
});

test('a Confirm whose caller goes away mid-write: unknown at once, finished by the live replica itself, once', async () => {
  const { tickets, writeLands, createTicket } = gatedTicketTool();
  const live = createTestEngine({ tools: [createTicket], script });
  const gone = new AbortController();
  const { proposal, action, confirming: cut } = await confirmUntilSent(live, gone.signal);
  gone.abort();
  await cut;
  writeLands.open();
  await until(() => tickets.length === 1, 'the write landed at the tool service');
  // Not left running under a replica that lives on (no reconciler would ever take it).
  expect(live.ledgerRows.map((r) => [r.status, r.resultCode])).toEqual([['unknown', 'CANCELLED']]);
  expect(live.ledger.audit.map((a) => a.end.resultCode)).toEqual(['CANCELLED']);

  const reconciler = createReconciler({
    ledger: live.ledger,
    actions: live.actions,
    engine: live.engine,
    logger: live.logger,
    staleMs: 30_000,
    clock: live.clock,
  });
  await live.clock.advance(30_001);
  await reconciler.runOnce();
  expect(live.ledgerRows.map((r) => r.status)).toEqual(['unknown', 'done']);
  expect(tickets).toHaveLength(1);
  const answered = await live.engine.confirm(turnOf(), proposal.conversationId, action.actionId, true);
  expect(answered.reply).toBe('ticket handled');
});
