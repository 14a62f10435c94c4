// Limits that hold for the mesh, not per replica: counting in process (no Redis, or Redis
// down) each of N replicas allows its share, so N replicas together stay near the rule
// instead of N times over it; with Redis they share one count and the whole rule.
import { randomUUID } from 'node:crypto';
import { createManualClock } from '@toolmesh/clock';
import { createLogger } from '@toolmesh/telemetry';
import { connectTestRedis, deadRedisClient, deleteRedisKeys } from '@toolmesh/testkit';
import type { Redis } from 'ioredis';
import { createReplicaShareRateLimiter, createTenantBudgets, shareOf } from '../src/budgets/index.ts';

const prefix = `toolmesh-test:${randomUUID()}:`;
const logger = createLogger({ service: 'orchestrator-test', level: 'silent' });
const rule = { ratePerSec: 1, burst: 6 };
let redis: Redis;

beforeAll(async () => {
  redis = await connectTestRedis();
});

afterAll(async () => {
  if (redis) await deleteRedisKeys(prefix);
  redis?.disconnect();
});

// Redis buckets refill by the Redis server's clock, which a test cannot hold still: at one
// token an hour no run, however slow the machine, sees a refill between its takes.
const slowRule = { ratePerSec: 1 / 3600, burst: 6 };

/** How many of `n` takes each limiter allows, at one instant of a clock nobody advances. */
async function allowed(
  limiters: ReturnType<typeof createReplicaShareRateLimiter>[],
  n: number,
  limit: typeof rule = rule,
) {
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (const limiter of limiters) if ((await limiter.take('u_1001', limit)).allowed) count++;
  }
  return count;
}

test('a share is the rule divided by the replicas, one token of burst at least', () => {
  expect(shareOf(rule, 3)).toEqual({ ratePerSec: 1 / 3, burst: 2 });
  expect(shareOf(rule, 12)).toEqual({ ratePerSec: 1 / 12, burst: 1 });
  expect(shareOf(rule, 0)).toEqual(rule);
});

test('three replicas counting in process let the burst through once between them, not three times', async () => {
  const clock = createManualClock();
  const three = [1, 2, 3].map(() => createReplicaShareRateLimiter({ prefix, replicas: () => 3, clock }));
  expect(await allowed(three, 10)).toBe(6);
});

test('with Redis down the replicas fall back to their shares; with Redis they share the whole rule', async () => {
  const clock = createManualClock();
  const dead = [1, 2, 3].map(() => deadRedisClient());
  const down = dead.map((client) =>
    createReplicaShareRateLimiter({ redis: client, prefix, replicas: () => 3, clock }),
  );
  expect(await allowed(down, 10)).toBe(6);
  for (const client of dead) client.disconnect();
  const shared = [1, 2, 3].map(() =>
    createReplicaShareRateLimiter({ redis, prefix: `${prefix}shared:`, replicas: () => 3, clock }),
  );
  expect(await allowed(shared, 10, slowRule)).toBe(6);
});

test("tenants' budgets counted in process: concurrent turns and tokens are cut to each replica's share", async () => {
  const policy = { concurrentTurns: 4, tokensPerDay: 900 };
  const budgets = createTenantBudgets({ prefix, logger, replicas: () => 2, clock: createManualClock() });
  const first = await budgets.admit('t_demo', policy);
  const second = await budgets.admit('t_demo', policy);
  await expect(budgets.admit('t_demo', policy)).rejects.toThrow();
  await first();
  await second();
  // 450 tokens here stand for 900 across two replicas: the day is spent.
  await budgets.spend('t_demo', 450);
  expect(await budgets.spentToday('t_demo')).toBe(900);
  await expect(budgets.admit('t_demo', policy)).rejects.toThrow();
});
