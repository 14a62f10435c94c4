import { randomUUID } from 'node:crypto';
import { createManualClock } from '@toolmesh/clock';
import {
  connectHangingRedis,
  connectTestRedis,
  deadRedisClient,
  deleteRedisKeys,
  waitFor,
} from '@toolmesh/testkit';
import type { Redis } from 'ioredis';
import { createRateLimiter, type RateDecision } from '../src/index.ts';

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

/**
 * A clock nobody advances: the Redis timeout never fires, so a slow machine cannot
 * turn a shared-bucket answer into a fallback. Redis buckets refill by Redis's own clock.
 */
const stillClock = () => createManualClock();

/** Whether a promise has settled, after letting pending callbacks run. */
function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return () => settled;
}

describe('Redis rate limiter', () => {
  test('two limiters on one prefix share the budget', async () => {
    const one = createRateLimiter({ redis: a, prefix, clock: stillClock() });
    const two = createRateLimiter({ redis: b, prefix, clock: stillClock() });
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
    const other = createRateLimiter({ redis: a, prefix: `${prefix}other:`, clock: stillClock() });
    expect((await other.take('shared', rule)).allowed).toBe(true);
    expect(one.fallbacks() + two.fallbacks() + other.fallbacks()).toBe(0);
  });

  test('200 concurrent takes with burst 50 allow exactly 50', async () => {
    const limiter = createRateLimiter({ redis: a, prefix, clock: stillClock() });
    const rule = { ratePerSec: 0.01, burst: 50 };
    const answers = await Promise.all(Array.from({ length: 200 }, () => limiter.take('crowd', rule)));
    expect(answers.filter((d) => d.allowed)).toHaveLength(50);
    expect(limiter.fallbacks()).toBe(0);
  });

  test('retryAfterMs follows the bucket math, and a retry once it has passed succeeds', async () => {
    const limiter = createRateLimiter({ redis: a, prefix, clock: stillClock() });
    // One token per 50 ms: a denial never asks for more than that.
    const rule = { ratePerSec: 20, burst: 1 };
    expect(await limiter.take('retry', rule)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 0 });
    const denials: RateDecision[] = [];
    await waitFor(
      async () => {
        const decision = await limiter.take('retry', rule);
        if (!decision.allowed) denials.push(decision);
        return decision.allowed;
      },
      { what: 'the bucket to refill' },
    );
    for (const denied of denials) {
      expect(denied.remaining).toBe(0);
      expect(denied.retryAfterMs).toBeGreaterThan(0);
      expect(denied.retryAfterMs).toBeLessThanOrEqual(50);
    }
    // Denials spend nothing, so the wait they announce only shrinks.
    const waits = denials.map((d) => d.retryAfterMs);
    expect(waits).toEqual([...waits].sort((x, y) => y - x));

    // A cost of the whole burst waits for the whole burst to refill: 30 tokens at 0.01/s, so
    // however long the machine takes between the two takes (Redis's clock runs on), the second
    // is refused.
    const costly = { ratePerSec: 0.01, burst: 30 };
    expect((await limiter.take('retry-cost', costly, 30)).allowed).toBe(true);
    const again = await limiter.take('retry-cost', costly, 30);
    expect(again.allowed).toBe(false);
    expect(again.retryAfterMs).toBeGreaterThan(0);
    expect(again.retryAfterMs).toBeLessThanOrEqual(3_000_000);
    expect(limiter.fallbacks()).toBe(0);
  });

  test('a bucket key expires in Redis once the bucket would be full again', async () => {
    const limiter = createRateLimiter({ redis: a, prefix, clock: stillClock() });
    // Full again 100 s after the take: the expiry is set to that, plus 1 ms.
    await limiter.take('slow', { ratePerSec: 0.01, burst: 1 });
    const ttl = await a.pttl(`${prefix}rl:slow`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(100_001);
    // Full again 50 ms after the take: the key goes away by itself.
    await limiter.take('fast', { ratePerSec: 20, burst: 1 });
    await waitFor(async () => (await a.exists(`${prefix}rl:fast`)) === 0, {
      what: 'the rate key to expire',
    });
    expect(limiter.fallbacks()).toBe(0);
  });
});

describe('Redis failures', () => {
  test('Redis down: the local fallback answers without waiting for the timeout, and still limits', async () => {
    const redis = deadRedisClient();
    const causes: unknown[] = [];
    // The clock never moves, so every answer below came without the Redis timeout firing.
    const clock = createManualClock();
    const limiter = createRateLimiter({ redis, prefix, clock, onFallback: (error) => causes.push(error) });
    const rule = { ratePerSec: 0.01, burst: 3 };
    const allowed: boolean[] = [];
    for (let i = 0; i < 10; i++) allowed.push((await limiter.take('down', rule)).allowed);
    expect(allowed).toEqual([true, true, true, false, false, false, false, false, false, false]);
    expect(limiter.fallbacks()).toBe(10);
    expect(causes).toHaveLength(10);
    expect(clock.pending()).toBe(0);
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

  test('Redis hangs: the take waits for the timeout, then the local bucket answers', async () => {
    // Accepts connections and never answers, like a stalled server.
    const { redis, close } = await connectHangingRedis();
    try {
      const clock = createManualClock();
      const causes: unknown[] = [];
      const limiter = createRateLimiter({
        redis,
        prefix,
        clock,
        redisTimeoutMs: 50,
        onFallback: (error) => causes.push(error),
      });
      const rule = { ratePerSec: 1, burst: 1 };
      const take = limiter.take('hang', rule);
      const settled = settledFlag(take);
      await clock.advance(49);
      expect(settled()).toBe(false);
      await clock.advance(1);
      expect(settled()).toBe(true);
      expect(await take).toEqual({ allowed: true, retryAfterMs: 0, remaining: 0 });
      expect(String(causes[0])).toContain('longer than 50 ms');
      // The answer came from the local bucket, which now holds the spent token.
      const next = limiter.take('hang', rule);
      await clock.advance(50);
      expect(await next).toEqual({ allowed: false, retryAfterMs: 950, remaining: 0 });
      expect(limiter.fallbacks()).toBe(2);
    } finally {
      await close();
    }
  });
});
