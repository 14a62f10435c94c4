import { randomUUID } from 'node:crypto';
import {
  connectHangingRedis,
  connectTestRedis,
  deadRedisClient,
  deleteRedisKeys,
  timed,
} from '@toolmesh/testkit';
import type { Redis } from 'ioredis';
import { createRateLimiter } from '../src/index.ts';

// Each run gets its own keys, so parallel runs and leftovers cannot interfere.
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

describe('Redis rate limiter', () => {
  test('two limiters on one prefix share the budget', async () => {
    const one = createRateLimiter({ redis: a, prefix });
    const two = createRateLimiter({ redis: b, prefix });
    expect(one.backend()).toBe('redis');
    const rule = { ratePerSec: 0.01, burst: 5 };
    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push(await one.take('shared', rule));
      answers.push(await two.take('shared', rule));
    }
    expect(answers.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, false, false]);
    expect(answers.map((d) => d.remaining)).toEqual([4, 3, 2, 1, 0, 0, 0, 0]);
    // Another prefix is another budget.
    const other = createRateLimiter({ redis: a, prefix: `${prefix}other:` });
    expect((await other.take('shared', rule)).allowed).toBe(true);
    expect(one.fallbacks() + two.fallbacks() + other.fallbacks()).toBe(0);
  });

  test('200 concurrent takes with burst 50 allow exactly 50', async () => {
    // A generous timeout: a fallback here would answer from local buckets and blur the count.
    const limiter = createRateLimiter({ redis: a, prefix, redisTimeoutMs: 5_000 });
    const rule = { ratePerSec: 0.01, burst: 50 };
    const answers = await Promise.all(Array.from({ length: 200 }, () => limiter.take('crowd', rule)));
    expect(answers.filter((d) => d.allowed)).toHaveLength(50);
    expect(limiter.fallbacks()).toBe(0);
  });

  test('retryAfterMs tells when the next take succeeds, and the key expires once full', async () => {
    const limiter = createRateLimiter({ redis: a, prefix, redisTimeoutMs: 1_000 });
    const rule = { ratePerSec: 20, burst: 1 };
    expect(await limiter.take('retry', rule)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 0 });
    const ttl = await a.pttl(`${prefix}rl:retry`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(51);
    const denied = await limiter.take('retry', rule);
    expect(denied.allowed).toBe(false);
    expect(denied.retryAfterMs).toBeGreaterThan(30);
    expect(denied.retryAfterMs).toBeLessThanOrEqual(50);
    await new Promise((resolve) => setTimeout(resolve, denied.retryAfterMs + 5));
    expect((await limiter.take('retry', rule)).allowed).toBe(true);
    const big = await limiter.take('retry-cost', { ratePerSec: 10, burst: 30 }, 30);
    expect(big.allowed).toBe(true);
    const again = await limiter.take('retry-cost', { ratePerSec: 10, burst: 30 }, 30);
    expect(again.retryAfterMs).toBeGreaterThan(2_900);
    expect(again.retryAfterMs).toBeLessThanOrEqual(3_000);
  });
});

describe('Redis failures', () => {
  test('Redis down: local fallback answers fast and still limits', async () => {
    const redis = deadRedisClient();
    const causes: unknown[] = [];
    const limiter = createRateLimiter({ redis, prefix, onFallback: (error) => causes.push(error) });
    const rule = { ratePerSec: 0.01, burst: 3 };
    const allowed: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      const { value, ms } = await timed(() => limiter.take('down', rule));
      expect(ms).toBeLessThan(100);
      allowed.push(value.allowed);
    }
    expect(allowed.filter(Boolean)).toHaveLength(3);
    expect(limiter.fallbacks()).toBe(10);
    expect(causes).toHaveLength(10);
    expect(limiter.backend()).toBe('redis');
    redis.disconnect();
  });

  test('Redis down: allow and deny policies', async () => {
    const redis = deadRedisClient();
    const allow = createRateLimiter({ redis, prefix, onRedisError: 'allow' });
    const deny = createRateLimiter({ redis, prefix, onRedisError: 'deny' });
    const rule = { ratePerSec: 2, burst: 1 };
    for (let i = 0; i < 3; i++) expect((await allow.take('p', rule)).allowed).toBe(true);
    expect(await deny.take('p', rule)).toEqual({ allowed: false, retryAfterMs: 500, remaining: 0 });
    expect(allow.fallbacks()).toBe(3);
    expect(deny.fallbacks()).toBe(1);
    redis.disconnect();
  });

  test('Redis hangs: the command timeout bounds the wait', async () => {
    // Accepts connections and never answers, like a stalled server.
    const { redis, close } = await connectHangingRedis();
    try {
      const limiter = createRateLimiter({ redis, prefix, redisTimeoutMs: 50 });
      const { value, ms } = await timed(() => limiter.take('hang', { ratePerSec: 1, burst: 1 }));
      expect(value.allowed).toBe(true);
      expect(ms).toBeGreaterThanOrEqual(45);
      expect(ms).toBeLessThan(150);
      expect(limiter.fallbacks()).toBe(1);
    } finally {
      await close();
    }
  });
});
