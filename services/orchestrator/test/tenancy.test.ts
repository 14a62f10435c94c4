// Tenants share nothing, in process: u_1001 of t_other is another person than u_1001 of
// t_demo. It cannot continue t_demo's conversation, decide its pending action or replay
// its idempotent response — each answered exactly as for something that does not exist —
// and it has its own rate-limit budget and read cache.
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { createToolCache } from '@toolmesh/cache';
import { createManualClock } from '@toolmesh/clock';
import { createConcurrencyLimiter, createKeyedConcurrencyLimiter, createRateLimiter } from '@toolmesh/limits';
import { ChatResponseSchema } from '@toolmesh/proto';
import { createResultCache } from '../src/tools/index.ts';
import { createToolAdmission, toolRateKey } from '../src/tools/tool-admission.ts';
import { withIdempotencyKey } from '../src/turn/index.ts';
import { createMemoryChatRequestStore } from './support/memory-stores.ts';
import { toolCall } from './support/scripted-model.ts';
import { createTestEngine, principal, turnOf } from './support/test-engine.ts';
import type { WorldTool } from './support/tool-world.ts';

const demo = principal('u_1001');
const other = principal('u_1001', undefined, 't_other');

const orders: WorldTool = {
  name: 'get_order_detail',
  permission: 'order:read',
  run: () => ({ order_id: '202604100018', status: 'shipped' }),
};
const tickets: WorldTool = {
  name: 'create_ticket',
  permission: 'ticket:write',
  sideEffect: 'write',
  run: () => ({ ticket_id: 'T1' }),
};

function world() {
  return createTestEngine({
    tools: [orders, tickets],
    script: (r, step) => {
      const asked = r.messages.findLast((m) => m.role === 'user')?.content;
      if (step === 0 && asked === 'order?') return { toolCalls: [toolCall('get_order_detail', {})] };
      if (step === 0 && asked === 'ticket') return { toolCalls: [toolCall('create_ticket', {})] };
      return { content: 'done' };
    },
  });
}

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (e: unknown) => {
      if (!(e instanceof ConnectError)) throw e;
      return { code: e.code, message: e.rawMessage };
    },
  );

test("another tenant's same user id cannot continue the conversation; the answer is that of a missing one", async () => {
  const t = world();
  const mine = await t.engine.chat(turnOf(demo), '', 'order?');
  const calls = t.model.requests.length;
  const refused = await failure(t.engine.chat(turnOf(other), mine.conversationId, 'order?'));
  const missing = await failure(
    t.engine.chat(turnOf(other), '00000000-0000-4000-8000-00000000dead', 'order?'),
  );
  expect(refused).toEqual({ code: Code.NotFound, message: 'conversation not found' });
  expect(refused).toEqual(missing);
  expect(t.model.requests).toHaveLength(calls);
  expect(t.conversations.conversation(mine.conversationId)?.messages).toHaveLength(4);
  // Its owner goes on as before.
  expect((await t.engine.chat(turnOf(demo), mine.conversationId, 'thanks')).reply).toBe('done');
});

test("another tenant's same user id cannot decide the pending action; it stays pending and runs nothing", async () => {
  const t = world();
  const res = await t.engine.chat(turnOf(demo), '', 'ticket');
  const action = res.pendingActions[0];
  if (!action) throw new Error('no pending action');
  for (const approve of [true, false]) {
    const refused = await failure(
      t.engine.confirm(turnOf(other), res.conversationId, action.actionId, approve),
    );
    expect(refused).toEqual({ code: Code.NotFound, message: 'action not found' });
  }
  expect((await t.actions.get(action.actionId))?.status).toBe('pending');
  expect(t.world.invocations).toHaveLength(0);
  const stored = await t.actions.get(action.actionId);
  expect(stored).toMatchObject({ tenantId: 't_demo', userId: 'u_1001' });
});

test("another tenant's same user id with the same idempotency key gets a turn of its own, not the replay", async () => {
  const t = world();
  const first = await t.engine.chat(turnOf(demo), '', 'order?', 'key-1');
  const replay = await t.engine.chat(turnOf(demo), '', 'order?', 'key-1');
  expect(replay).toEqual(first);
  const theirs = await t.engine.chat(turnOf(other), '', 'order?', 'key-1');
  expect(theirs.conversationId).not.toBe(first.conversationId);
  // And t_other's own key now replays t_other's response.
  expect(await t.engine.chat(turnOf(other), '', 'order?', 'key-1')).toEqual(theirs);
});

test('rate-limit keys are per (tenant, user, tool): one tenant spending its budget leaves the other its own', async () => {
  const clock = createManualClock();
  expect(toolRateKey(demo, 'get_order_detail')).not.toBe(toolRateKey(other, 'get_order_detail'));
  // Separators inside ids cannot make two callers share a key.
  expect(toolRateKey({ tenantId: 'a:b', userId: 'c' }, 't')).not.toBe(
    toolRateKey({ tenantId: 'a', userId: 'b:c' }, 't'),
  );
  const admission = createToolAdmission({
    rateLimiter: createRateLimiter({ clock }),
    perUserToolRate: { ratePerSec: 1, burst: 2 },
    perTool: createKeyedConcurrencyLimiter({ limitFor: () => 0, queueTimeoutMs: 1_000, clock }),
    global: createConcurrencyLimiter({ limit: 10, maxQueue: 10, queueTimeoutMs: 1_000, clock }),
  });
  const signal = new AbortController().signal;
  const take = async (who: typeof demo) => {
    const admitted = await admission('get_order_detail', who, signal);
    if ('release' in admitted) admitted.release();
    return 'refused' in admitted ? 'refused' : 'admitted';
  };
  expect([await take(demo), await take(demo), await take(demo)]).toEqual(['admitted', 'admitted', 'refused']);
  expect([await take(other), await take(other)]).toEqual(['admitted', 'admitted']);
});

test('the read cache is per (tenant, user): the same user id of another tenant never reads a cached result', async () => {
  const cache = createResultCache(createToolCache({ clock: createManualClock() }));
  const args = '{"order_id":"202604100018"}';
  await cache.store(demo, 'get_order_detail', args, '{"status":"shipped"}', 60_000);
  expect(await cache.lookup(demo, 'get_order_detail', args)).toBe('{"status":"shipped"}');
  expect(await cache.lookup(other, 'get_order_detail', args)).toBeUndefined();
  // A write of the other tenant does not drop this tenant's entries either.
  await cache.invalidate(other, args);
  expect(await cache.lookup(demo, 'get_order_detail', args)).toBe('{"status":"shipped"}');
  await cache.invalidate(demo, args);
  expect(await cache.lookup(demo, 'get_order_detail', args)).toBeUndefined();
});

test('audit records of executions carry the tenant of the principal', async () => {
  const t = world();
  await t.engine.chat(turnOf(other), '', 'order?');
  expect(t.ledger.audit.map((a) => [a.start.tenantId, a.start.userId, a.start.toolName])).toEqual([
    ['t_other', 'u_1001', 'get_order_detail'],
  ]);
});

test('withIdempotencyKey replays per (tenant, user) and refuses a key without a whole owner', async () => {
  const store = createMemoryChatRequestStore();
  let turns = 0;
  const turn = async () => create(ChatResponseSchema, { reply: `turn ${++turns}` });
  const request = { requestedId: '', message: 'order?' };
  const run = (owner: { tenantId: string; userId: string }) =>
    withIdempotencyKey(store, { owner, key: 'k', request }, ChatResponseSchema, turn);
  expect((await run(demo)).reply).toBe('turn 1');
  expect((await run(demo)).reply).toBe('turn 1');
  expect((await run(other)).reply).toBe('turn 2');
  expect((await run(other)).reply).toBe('turn 2');
  expect(await failure(run({ tenantId: '', userId: 'u_1001' }))).toMatchObject({
    code: Code.Unauthenticated,
  });
  expect(turns).toBe(2);
});
