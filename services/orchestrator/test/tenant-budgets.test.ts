// Tenants' budgets across replicas: two budget instances on one Redis count together;
// with Redis down each counts in process, and says so once.
import { randomUUID } from 'node:crypto';
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { readErrorInfo } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import { connectTestRedis, deadRedisClient, deleteRedisKeys } from '@toolmesh/testkit';
import type { Redis } from 'ioredis';
import { createTenantBudgets } from '../src/budgets/index.ts';

const prefix = `toolmesh-test:${randomUUID()}:`;
let a: Redis;
let b: Redis;

beforeAll(async () => {
  a = await connectTestRedis();
  b = await connectTestRedis();
});

afterAll(async () => {
  if (a) await deleteRedisKeys(prefix);
  a?.disconnect();
  b?.disconnect();
});

/** A logger that keeps its warnings. */
function recordingLogger() {
  const warnings: string[] = [];
  const logger = {
    warn: (_fields: unknown, message: string) => warnings.push(message),
    info: () => {},
  } as unknown as Logger;
  return { logger, warnings };
}

// Nobody advances it: the Redis timeout never fires on a slow machine.
const budgetsOn = (redis: Redis | undefined, tenantPrefix = prefix) => {
  const { logger, warnings } = recordingLogger();
  const refused: string[] = [];
  const budgets = createTenantBudgets({
    redis,
    prefix: tenantPrefix,
    logger,
    clock: createManualClock(),
    onRefused: (reason) => refused.push(reason),
  });
  return { budgets, warnings, refused };
};

async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

test("tokens spent on one replica count against the tenant's day on the other", async () => {
  const one = budgetsOn(a);
  const two = budgetsOn(b);
  const policy = { tokensPerDay: 100 };
  await one.budgets.spend('t_tokens', 60);
  await two.budgets.spend('t_tokens', 40);
  expect(await one.budgets.spentToday('t_tokens')).toBe(100);
  const refused = await refusal(two.budgets.admit('t_tokens', policy));
  expect(refused.code).toBe(Code.ResourceExhausted);
  // The manual clock stands at midnight UTC: a whole day to wait.
  expect(readErrorInfo(refused)).toMatchObject({
    reason: 'TENANT_BUDGET_EXHAUSTED',
    retryAfterMs: 86_400_000,
  });
  expect(two.refused).toEqual(['token_budget']);
  const ttl = await a.pttl(`${prefix}tenant-tokens:t_tokens:2026-01-01`);
  expect(ttl).toBeGreaterThan(0);
});

test('turns at once are counted across replicas and given back when released', async () => {
  const one = budgetsOn(a);
  const two = budgetsOn(b);
  const policy = { concurrentTurns: 2 };
  const first = await one.budgets.admit('t_turns', policy);
  const second = await two.budgets.admit('t_turns', policy);
  const busy = await refusal(one.budgets.admit('t_turns', policy));
  expect(readErrorInfo(busy)?.reason).toBe('TENANT_BUSY');
  await first();
  await first(); // twice gives back one slot only
  const third = await two.budgets.admit('t_turns', policy);
  await refusal(two.budgets.admit('t_turns', policy));
  await second();
  await third();
  // Released slots are gone from Redis.
  await expect(one.budgets.admit('t_turns', policy)).resolves.toBeInstanceOf(Function);
});

test('the chat rate is one bucket for the tenant across replicas', async () => {
  const one = budgetsOn(a);
  const two = budgetsOn(b);
  const policy = { chatRatePerSec: 0.001, chatBurst: 2 };
  await one.budgets.admit('t_rate', policy);
  await two.budgets.admit('t_rate', policy);
  const limited = await refusal(one.budgets.admit('t_rate', policy));
  expect(readErrorInfo(limited)).toMatchObject({ reason: 'RATE_LIMITED', metadata: { scope: 'tenant' } });
});

test('with Redis down, budgets count in process and the outage is logged once', async () => {
  const down = budgetsOn(deadRedisClient());
  const policy = { tokensPerDay: 10, concurrentTurns: 1 };
  const release = await down.budgets.admit('t_down', policy);
  await refusal(down.budgets.admit('t_down', policy));
  await release();
  await down.budgets.spend('t_down', 10);
  const refused = await refusal(down.budgets.admit('t_down', policy));
  expect(readErrorInfo(refused)?.reason).toBe('TENANT_BUDGET_EXHAUSTED');
  expect(down.warnings.filter((w) => w.includes('tenant budgets'))).toHaveLength(1);
});

test('a tenant without a policy is never limited', async () => {
  const { budgets } = budgetsOn(undefined);
  for (let i = 0; i < 5; i++) await budgets.admit('t_free', undefined);
});
