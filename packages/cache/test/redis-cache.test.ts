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
import { type CacheKey, cacheTags, createToolCache } from '../src/index.ts';

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

const order = { order_id: '202604100018' };
const key = (overrides: Partial<CacheKey> = {}): CacheKey => ({
  userId: 'u_1001',
  tenantId: 't_1',
  tool: 'get_order_detail',
  argumentsJson: JSON.stringify(order),
  ...overrides,
});

/** Whether a promise has settled. */
function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  const done = () => {
    settled = true;
  };
  promise.then(done, done);
  return () => settled;
}

// A clock nobody advances: the Redis timeout never fires where it would only blur what a
// test checks, however slow the machine. Redis entries expire by Redis's own clock.
const slack = () => ({ clock: createManualClock() });

describe('Redis tool cache', () => {
  test('hits after set; another user, tenant, tool or arguments misses', async () => {
    const cache = createToolCache({ redis: a, prefix: `${prefix}iso:`, ...slack() });
    expect(cache.backend()).toBe('redis');
    expect(await cache.get(key())).toBeUndefined();
    await cache.set(key(), '{"status":"shipped"}', 60_000, cacheTags('u_1001', 't_1', order));
    expect(await cache.get(key())).toBe('{"status":"shipped"}');
    expect(await cache.get(key({ userId: 'u_2002' }))).toBeUndefined();
    expect(await cache.get(key({ tenantId: 't_2' }))).toBeUndefined();
    expect(await cache.get(key({ tool: 'get_dispatch_plan' }))).toBeUndefined();
    expect(await cache.get(key({ argumentsJson: '{"order_id":"202604100042"}' }))).toBeUndefined();
    expect(cache.stats()).toEqual({ hits: 1, misses: 5, invalidations: 0, errors: 0 });

    // The key layout: tenant, user, tool and the SHA-256 of the canonical arguments.
    const stored = await a.keys(`${prefix}iso:*`);
    expect(stored.sort()).toEqual([
      `${prefix}iso:t:t_1:u_1001:order_id=202604100018`,
      expect.stringMatching(/:iso:v:t_1:u_1001:get_order_detail:[0-9a-f]{64}$/),
    ]);
  });

  test('values are never served after their TTL; tag sets outlive their entries', async () => {
    const p = `${prefix}ttl:`;
    const cache = createToolCache({ redis: a, prefix: p, ...slack() });
    await cache.set(key({ tool: 'long' }), 'long', 100_000, ['shared']);
    const longTtl = await a.pttl((await a.keys(`${p}v:*long*`))[0] ?? 'missing');
    expect(longTtl).toBeGreaterThan(0);
    expect(longTtl).toBeLessThanOrEqual(100_000);
    await cache.set(key(), 'short', 150, ['shared']);
    // The short entry carries its own expiry (PTTL -2 means it is already gone, -1 would mean never).
    const shortKey = (await a.keys(`${p}v:*get_order_detail*`))[0] ?? 'missing';
    const shortTtl = await a.pttl(shortKey);
    expect(shortTtl === -2 || (shortTtl > 0 && shortTtl <= 150)).toBe(true);
    await waitFor(async () => (await a.exists(shortKey)) === 0, { what: 'the short-lived key to expire' });
    expect(await cache.get(key())).toBeUndefined();
    // A shorter entry does not shorten the tag set the longer one relies on.
    expect(await a.pttl(`${p}t:shared`)).toBeGreaterThan(150);
    expect(await cache.get(key({ tool: 'long' }))).toBe('long');
    // The expired entry is not counted by the invalidation.
    expect(await cache.invalidateTags(['shared'])).toBe(1);
  });

  test('two caches on one prefix share entries and invalidate each other', async () => {
    const p = `${prefix}shared:`;
    const one = createToolCache({ redis: a, prefix: p, ...slack() });
    const two = createToolCache({ redis: b, prefix: p, ...slack() });
    const mine = cacheTags('u_1001', 't_1', order);
    await one.set(key(), 'detail', 60_000, mine);
    await one.set(key({ tool: 'get_dispatch_plan' }), 'plan', 60_000, mine);
    const theirs = key({ userId: 'u_2002' });
    await one.set(theirs, 'their view', 60_000, cacheTags('u_2002', 't_1', order));
    expect(await two.get(key())).toBe('detail');

    // Another prefix is another cache.
    const elsewhere = createToolCache({ redis: a, prefix: `${prefix}elsewhere:`, ...slack() });
    expect(await elsewhere.get(key())).toBeUndefined();

    const write = cacheTags('u_1001', 't_1', { order_id: 202604100018, category: 'x', description: 'y' });
    expect(await two.invalidateTags([...write, ...write])).toBe(2);
    expect(await one.get(key())).toBeUndefined();
    expect(await one.get(key({ tool: 'get_dispatch_plan' }))).toBeUndefined();
    expect(await one.get(theirs)).toBe('their view');
    expect(await a.exists(`${p}t:${write[0]}`)).toBe(0);
    expect(await two.invalidateTags(write)).toBe(0);
    expect(two.stats()).toEqual({ hits: 1, misses: 0, invalidations: 2, errors: 0 });
    expect(one.stats()).toEqual({ hits: 1, misses: 2, invalidations: 0, errors: 0 });
  });

  test('an entry under several tags counts once', async () => {
    const cache = createToolCache({ redis: a, prefix: `${prefix}multi:`, ...slack() });
    await cache.set(key(), 'v', 60_000, ['x', 'y', 'x']);
    await cache.set(key({ tool: 'untagged' }), 'u', 60_000, []);
    expect(await cache.invalidateTags(['x', 'y'])).toBe(1);
    expect(await cache.get(key())).toBeUndefined();
    expect(await cache.get(key({ tool: 'untagged' }))).toBe('u');
  });
});

describe('Redis failures', () => {
  test('Redis down: gets miss without waiting for the timeout, sets and invalidations do nothing, errors are counted', async () => {
    const redis = deadRedisClient();
    const causes: string[] = [];
    // The clock never moves, so every answer below came without the Redis timeout firing.
    const clock = createManualClock();
    const cache = createToolCache({
      redis,
      prefix,
      clock,
      onError: (_, operation) => causes.push(operation),
    });
    for (let i = 0; i < 5; i++) expect(await cache.get(key())).toBeUndefined();
    await expect(cache.set(key(), 'v', 60_000, ['x'])).resolves.toBeUndefined();
    await expect(cache.invalidateTags(['x'])).resolves.toBe(0);
    expect(cache.stats()).toEqual({ hits: 0, misses: 5, invalidations: 0, errors: 7 });
    expect(causes).toEqual(['get', 'get', 'get', 'get', 'get', 'set', 'invalidate']);
    expect(clock.pending()).toBe(0);
    redis.disconnect();
  });

  test('Redis hangs: each operation gives up at the timeout with its fallback answer', async () => {
    // Accepts connections and never answers, like a stalled server.
    const { redis, close } = await connectHangingRedis();
    try {
      const clock = createManualClock();
      const causes: string[] = [];
      const cache = createToolCache({
        redis,
        prefix,
        clock,
        redisTimeoutMs: 50,
        onError: (error, operation) => {
          causes.push(`${operation}: ${String(error)}`);
          throw new Error('a throwing hook is ignored');
        },
      });
      const operations = [
        () => cache.get(key()),
        () => cache.set(key(), 'v', 60_000, ['x']),
        () => cache.invalidateTags(['x']),
      ] as const;
      const answers: unknown[] = [];
      for (const operation of operations) {
        const pending = operation();
        const settled = settledFlag(pending);
        await clock.advance(49);
        expect(settled()).toBe(false);
        await clock.advance(1);
        expect(settled()).toBe(true);
        answers.push(await pending);
      }
      expect(answers).toEqual([undefined, undefined, 0]);
      expect(causes).toEqual([
        'get: Error: redis took longer than 50 ms',
        'set: Error: redis took longer than 50 ms',
        'invalidate: Error: redis took longer than 50 ms',
      ]);
      expect(cache.stats()).toEqual({ hits: 0, misses: 1, invalidations: 0, errors: 3 });
    } finally {
      await close();
    }
  });
});
