import { randomUUID } from 'node:crypto';
import {
  connectHangingRedis,
  connectTestRedis,
  deadRedisClient,
  deleteRedisKeys,
  timed,
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Generous timeouts where a timeout would only blur what the test checks.
const slack = { redisTimeoutMs: 2_000 };

describe('Redis tool cache', () => {
  test('hits after set; another user, tenant, tool or arguments misses', async () => {
    const cache = createToolCache({ redis: a, prefix: `${prefix}iso:`, ...slack });
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
    const cache = createToolCache({ redis: a, prefix: p, ...slack });
    await cache.set(key({ tool: 'long' }), 'long', 10_000, ['shared']);
    await cache.set(key(), 'short', 150, ['shared']);
    expect(await cache.get(key())).toBe('short');
    const entryTtl = await a.pttl((await a.keys(`${p}v:*get_order_detail*`))[0] ?? 'missing');
    expect(entryTtl).toBeGreaterThan(0);
    expect(entryTtl).toBeLessThanOrEqual(150);
    // A shorter entry does not shorten the tag set the longer one relies on.
    expect(await a.pttl(`${p}t:shared`)).toBeGreaterThan(9_000);
    await sleep(170);
    expect(await cache.get(key())).toBeUndefined();
    expect(await cache.get(key({ tool: 'long' }))).toBe('long');
    // The expired entry is not counted by the invalidation.
    expect(await cache.invalidateTags(['shared'])).toBe(1);
  });

  test('two caches on one prefix share entries and invalidate each other', async () => {
    const p = `${prefix}shared:`;
    const one = createToolCache({ redis: a, prefix: p, ...slack });
    const two = createToolCache({ redis: b, prefix: p, ...slack });
    const mine = cacheTags('u_1001', 't_1', order);
    await one.set(key(), 'detail', 60_000, mine);
    await one.set(key({ tool: 'get_dispatch_plan' }), 'plan', 60_000, mine);
    const theirs = key({ userId: 'u_2002' });
    await one.set(theirs, 'their view', 60_000, cacheTags('u_2002', 't_1', order));
    expect(await two.get(key())).toBe('detail');

    // Another prefix is another cache.
    const elsewhere = createToolCache({ redis: a, prefix: `${prefix}elsewhere:`, ...slack });
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
    const cache = createToolCache({ redis: a, prefix: `${prefix}multi:`, ...slack });
    await cache.set(key(), 'v', 60_000, ['x', 'y', 'x']);
    await cache.set(key({ tool: 'untagged' }), 'u', 60_000, []);
    expect(await cache.invalidateTags(['x', 'y'])).toBe(1);
    expect(await cache.get(key())).toBeUndefined();
    expect(await cache.get(key({ tool: 'untagged' }))).toBe('u');
  });
});

describe('Redis failures', () => {
  test('Redis down: gets miss fast, sets and invalidations do nothing, errors are counted', async () => {
    const redis = deadRedisClient();
    const causes: string[] = [];
    const cache = createToolCache({ redis, prefix, onError: (_, operation) => causes.push(operation) });
    for (let i = 0; i < 5; i++) {
      const { value, ms } = await timed(() => cache.get(key()));
      expect(value).toBeUndefined();
      expect(ms).toBeLessThan(100);
    }
    await expect(cache.set(key(), 'v', 60_000, ['x'])).resolves.toBeUndefined();
    await expect(cache.invalidateTags(['x'])).resolves.toBe(0);
    expect(cache.stats()).toEqual({ hits: 0, misses: 5, invalidations: 0, errors: 7 });
    expect(causes).toEqual(['get', 'get', 'get', 'get', 'get', 'set', 'invalidate']);
    redis.disconnect();
  });

  test('Redis hangs: the timeout bounds every operation', async () => {
    // Accepts connections and never answers, like a stalled server.
    const { redis, close } = await connectHangingRedis();
    try {
      const cache = createToolCache({
        redis,
        prefix,
        redisTimeoutMs: 50,
        onError: () => {
          throw new Error('a throwing hook is ignored');
        },
      });
      const get = await timed(() => cache.get(key()));
      expect(get.value).toBeUndefined();
      expect(get.ms).toBeGreaterThanOrEqual(45);
      expect(get.ms).toBeLessThan(150);
      const set = await timed(() => cache.set(key(), 'v', 60_000, ['x']));
      expect(set.ms).toBeLessThan(150);
      const invalidate = await timed(() => cache.invalidateTags(['x']));
      expect(invalidate.value).toBe(0);
      expect(invalidate.ms).toBeLessThan(150);
      expect(cache.stats()).toEqual({ hits: 0, misses: 1, invalidations: 0, errors: 3 });
    } finally {
      await close();
    }
  });
});
