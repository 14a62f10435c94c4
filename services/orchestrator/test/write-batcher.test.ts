// Group commit on the real Postgres: concurrent writes share one transaction, and a
// write is reported done only once that transaction committed — a failed COMMIT fails
// every write in it and leaves nothing in the tables; a row the server refuses fails
// alone, the others of its flush still commit.
import { randomUUID } from 'node:crypto';
import { createConversationStore, createExecutionLedger, type ExecutionStart } from '../src/store/index.ts';
import { countingPool } from './support/counting-pool.ts';
import { principal, until } from './support/test-engine.ts';
import { useOrchestratorDatabase } from './support/use-orchestrator-database.ts';

const db = useOrchestratorDatabase();

const u1001 = principal();
const lease = () => ({ leaseMs: 30_000, token: randomUUID() });

const readOf = (conversationId: string, toolCallId: string): ExecutionStart => ({
  requestId: 'r',
  conversationId,
  toolCallId,
  toolName: 'get_order_detail',
  userId: u1001.userId,
  tenantId: u1001.tenantId,
  sideEffect: 'read',
  idempotencyKey: toolCallId,
  toolAddress: 'in-process',
  maskedArgumentsJson: '{}',
});
const ok = { success: true, resultCode: 'OK', durationMs: 1, cached: false };

// Counted from another connection than the batcher's: what is committed.
const committed = async (table: string, conversationIds: string[]) =>
  (
    await db.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orchestrator.${table} WHERE conversation_id = ANY($1::uuid[])`,
      [conversationIds],
    )
  ).rows[0]?.n;

function stores() {
  const counted = countingPool(db.pool);
  return {
    counted,
    conversations: createConversationStore(counted.pool),
    ledger: createExecutionLedger(counted.pool),
  };
}

/** A turn's writes: its conversation with the user's message, a read's ledger and audit rows. */
const turnWrites = (s: ReturnType<typeof stores>) => {
  const id = randomUUID();
  return {
    id,
    done: Promise.all([
      s.conversations.createHeld(u1001, lease(), [{ role: 'user', content: 'hi' }], { conversationId: id }),
      s.ledger.record(readOf(id, `call_${id}`), ok),
    ]),
  };
};

test('the writes of 16 turns made at once are one transaction, and each is committed when it resolves', async () => {
  const s = stores();
  const before = s.counted.transactions();
  const turns = Array.from({ length: 16 }, () => turnWrites(s));
  await Promise.all(turns.map((t) => t.done));
  expect(s.counted.transactions() - before).toBe(1);
  const ids = turns.map((t) => t.id);
  expect(await committed('conversations', ids)).toBe(16);
  expect(await committed('messages', ids)).toBe(16);
  expect(await committed('tool_executions', ids)).toBe(16);
  expect(await committed('audit_log', ids)).toBe(16);
});

test('no write resolves before its COMMIT has answered', async () => {
  const s = stores();
  const open = s.counted.holdNextCommit();
  const turns = Array.from({ length: 4 }, () => turnWrites(s));
  const settled: string[] = [];
  for (const t of turns) void t.done.then(() => settled.push(t.id));
  const ids = turns.map((t) => t.id);
  // The flush has sent everything and waits at COMMIT: nothing reported, nothing visible.
  await until(() => s.counted.transactions() > 0, 'the flush began');
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  expect(settled).toEqual([]);
  expect(await committed('conversations', ids)).toBe(0);
  open();
  await Promise.all(turns.map((t) => t.done));
  expect(settled.sort()).toEqual([...ids].sort());
  expect(await committed('audit_log', ids)).toBe(4);
});

test('a failed COMMIT fails every write of its flush, and none of them is in the tables', async () => {
  const s = stores();
  const open = s.counted.holdNextCommit(new Error('the disk is gone'));
  const turns = Array.from({ length: 4 }, () => turnWrites(s));
  open();
  const outcomes = await Promise.allSettled(turns.map((t) => t.done));
  expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected', 'rejected']);
  const ids = turns.map((t) => t.id);
  for (const table of ['conversations', 'messages', 'tool_executions', 'audit_log']) {
    expect(await committed(table, ids)).toBe(0);
  }
});

test('a row the server refuses fails alone; the rest of its flush commits, in the order written', async () => {
  const s = stores();
  const good = turnWrites(s);
  // Messages of a conversation that does not exist: a foreign key violation.
  const missing = randomUUID();
  const refused = s.conversations.append(missing, [{ role: 'user', content: 'lost' }]);
  // Two more appends of the good conversation in the same flush: rerun after its creation, in turn.
  const more = [
    s.conversations.append(good.id, [{ role: 'assistant', content: 'second', toolCalls: [] }]),
    s.conversations.append(good.id, [{ role: 'user', content: 'third' }]),
  ];
  await expect(refused).rejects.toMatchObject({ code: '23503' });
  await good.done;
  await Promise.all(more);
  expect(await committed('conversations', [good.id])).toBe(1);
  expect(await committed('audit_log', [good.id])).toBe(1);
  expect(await committed('messages', [missing])).toBe(0);
  expect((await s.conversations.load(good.id)).map((m) => m.content)).toEqual(['hi', 'second', 'third']);
});
