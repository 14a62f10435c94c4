// Given a manual clock, the SQL stores compare expiry and staleness with its time, not the
// database's: it decides when a lease runs out, an approval expires, an execution is
// stale. Without one (production) the database's clock decides, one for every replica.
// Real Postgres.
import { create } from '@bufbuild/protobuf';
import { createManualClock } from '@toolmesh/clock';
import { PrincipalSchema } from '@toolmesh/proto';
import {
  createConversationStore,
  createExecutionLedger,
  createPendingActionStore,
  type ExecutionStart,
} from '../src/store/index.ts';
import { useOrchestratorDatabase } from './support/use-orchestrator-database.ts';

const db = useOrchestratorDatabase();

const u1001 = create(PrincipalSchema, { userId: 'u_1001', tenantId: 't_demo', permissions: [] });

test('a conversation lease runs out when the clock says so', async () => {
  const clock = createManualClock();
  const store = createConversationStore(db.pool, { clock });
  const { conversationId } = await store.createHeld(u1001, { leaseMs: 30_000, token: 'a' }, []);
  await clock.advance(29_000);
  expect(await store.tryAcquire(conversationId, 30_000, 'b')).toBe(false);
  await store.renew(conversationId, 30_000, 'a');
  await clock.advance(29_000);
  expect(await store.acquireOwned(conversationId, u1001, { leaseMs: 30_000, token: 'b' })).toBe('busy');
  await clock.advance(2_000);
  expect(await store.acquireOwned(conversationId, u1001, { leaseMs: 30_000, token: 'b' })).toBe('acquired');
});

test('an approval expires, and an executing one becomes reconcilable, by the clock', async () => {
  const clock = createManualClock();
  const conversations = createConversationStore(db.pool, { clock });
  const actions = createPendingActionStore(db.pool, { clock });
  const { conversationId } = await conversations.createHeld(u1001, { leaseMs: 1_000, token: 't' }, []);
  const action = (toolCallId: string) =>
    actions.create({
      conversationId,
      tenantId: 't_demo',
      userId: 'u_1001',
      toolName: 'create_ticket',
      toolCallId,
      argumentsJson: '{}',
      maskedArgumentsJson: '{}',
      summary: 'create_ticket()',
      ttlSeconds: 60,
      principal: {},
    });
  const early = await action('c1');
  const late = await action('c2');
  expect(early.expiresAt.getTime()).toBe(clock.now() + 60_000);
  await clock.advance(59_000);
  expect(await actions.claim(early.actionId, 'executing', 'u_1001')).toBe(true);
  await clock.advance(1_000);
  expect(await actions.claim(late.actionId, 'executing', 'u_1001')).toBe(false);
  // Claimed at 59 s: stale for a 30 s threshold only once 30 s more have passed.
  expect(await actions.claimStale(30_000, 'nobody', 60_000)).toEqual([]);
  await clock.advance(30_000);
  expect((await actions.claimStale(30_000, 'nobody', 60_000)).map((a) => a.actionId)).toEqual([
    early.actionId,
  ]);
});

test('a running execution of another owner is stale by the clock', async () => {
  const clock = createManualClock();
  const dead = createExecutionLedger(db.pool, { clock });
  const live = createExecutionLedger(db.pool, { clock });
  const execution: ExecutionStart = {
    requestId: 'r',
    conversationId: '00000000-0000-4000-8000-000000000009',
    toolCallId: 'clocked',
    toolName: 'get_order_detail',
    userId: 'u_1001',
    tenantId: 't_demo',
    sideEffect: 'read',
    idempotencyKey: 'k',
    toolAddress: 'x',
    maskedArgumentsJson: '{}',
  };
  await dead.start(execution);
  expect(await live.markStaleAsUnknown(60_000)).toEqual([]);
  await clock.advance(60_001);
  expect((await live.markStaleAsUnknown(60_000)).map((e) => e.toolCallId)).toEqual(['clocked']);
});

test("without a manual clock the database's clock judges leases, whatever the replica's clock says", async () => {
  const store = createConversationStore(db.pool);
  const { conversationId } = await store.createHeld(u1001, { leaseMs: 60_000, token: 'a' }, []);
  const { rows } = await db.pool.query<{ ahead: boolean }>(
    `SELECT busy_until > now() + interval '59 seconds' AS ahead FROM orchestrator.conversations
      WHERE conversation_id = $1`,
    [conversationId],
  );
  expect(rows).toEqual([{ ahead: true }]);
  expect(await store.tryAcquire(conversationId, 60_000, 'b')).toBe(false);
});
