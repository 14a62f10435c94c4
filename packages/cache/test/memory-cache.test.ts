import { createManualClock } from '@toolmesh/clock';
import { type CacheKey, cacheTags, createToolCache } from '../src/index.ts';

const order = { order_id: '202604100018' };
const key = (overrides: Partial<CacheKey> = {}): CacheKey => ({
  userId: 'u_1001',
  tenantId: 't_1',
  tool: 'get_order_detail',
  argumentsJson: JSON.stringify(order),
  ...overrides,
});

describe('cacheTags', () => {
  test('tags top-level _id arguments per tenant and user', () => {
    expect(cacheTags('u_1001', 't_1', { order_id: '202604100018', include_items: true })).toEqual([
      't_1:u_1001:order_id=202604100018',
    ]);
    // A number and its decimal string are the same order.
    expect(cacheTags('u_1001', 't_1', { order_id: 202604100018 })).toEqual(
      cacheTags('u_1001', 't_1', { order_id: '202604100018' }),
    );
    expect(
      cacheTags('u_1001', 't_1', { ticket_id: 'T-1', order_id: 'O:1', nested: { user_id: 'x' } }),
    ).toEqual(['t_1:u_1001:order_id=O%3A1', 't_1:u_1001:ticket_id=T-1']);
    expect(cacheTags('u_1001', 't_1', { id: 'a', order_id: '', sku_id: Number.NaN, skus: ['x'] })).toEqual(
      [],
    );
    expect(cacheTags('u_1001', 't_1', null)).toEqual([]);
    expect(cacheTags('u_1001', 't_1', ['order_id'])).toEqual([]);
    expect(cacheTags('u_2002', 't_1', order)).not.toEqual(cacheTags('u_1001', 't_1', order));
  });
});

describe('in-process tool cache', () => {
  test('hits after set; another user, tenant, tool or arguments misses', async () => {
    const cache = createToolCache();
    expect(cache.backend()).toBe('memory');
    expect(await cache.get(key())).toBeUndefined();
    await cache.set(key(), '{"status":"shipped"}', 60_000, cacheTags('u_1001', 't_1', order));
    expect(await cache.get(key())).toBe('{"status":"shipped"}');
    expect(await cache.get(key({ userId: 'u_2002' }))).toBeUndefined();
    expect(await cache.get(key({ tenantId: 't_2' }))).toBeUndefined();
    expect(await cache.get(key({ tool: 'get_dispatch_plan' }))).toBeUndefined();
    expect(await cache.get(key({ argumentsJson: '{"order_id":"202604100042"}' }))).toBeUndefined();
    // Separators inside ids cannot shift one key onto another.
    await cache.set(key({ tenantId: 'a:b', userId: 'c' }), 'first', 60_000, []);
    expect(await cache.get(key({ tenantId: 'a', userId: 'b:c' }))).toBeUndefined();
    expect(cache.stats()).toEqual({ hits: 1, misses: 6, invalidations: 0, errors: 0 });
  });

  test('entries expire after their TTL, never later', async () => {
    const clock = createManualClock();
    const cache = createToolCache({ clock });
    await cache.set(key(), 'v', 1_000, []);
    await clock.advance(999);
    expect(await cache.get(key())).toBe('v');
    await clock.advance(1);
    expect(await cache.get(key())).toBeUndefined();
    // A TTL that rounds below 1 ms, a non-finite one and an oversized value store nothing.
    await cache.set(key(), 'v', 0.5, []);
    await cache.set(key(), 'v', Number.POSITIVE_INFINITY, []);
    expect(await cache.get(key())).toBeUndefined();
    const small = createToolCache({ clock, maxValueLength: 3 });
    await small.set(key(), 'four', 1_000, []);
    expect(await small.get(key())).toBeUndefined();
    await small.set(key(), 'one', 1_000, []);
    expect(await small.get(key())).toBe('one');
  });

  test('holds at most maxEntries, forgetting the least recently used', async () => {
    const clock = createManualClock();
    const cache = createToolCache({ clock, maxEntries: 2 });
    const k = (tool: string) => key({ tool });
    await cache.set(k('a'), 'A', 60_000, ['t']);
    await cache.set(k('b'), 'B', 60_000, ['t']);
    expect(await cache.get(k('a'))).toBe('A');
    // b is now the least recently used, so c pushes it out.
    await cache.set(k('c'), 'C', 60_000, ['t']);
    expect(await cache.get(k('b'))).toBeUndefined();
    expect(await cache.get(k('a'))).toBe('A');
    expect(await cache.get(k('c'))).toBe('C');
    // Overwriting a key does not evict another one; evicted entries left the tag index.
    await cache.set(k('c'), 'C2', 60_000, ['t']);
    expect(await cache.get(k('a'))).toBe('A');
    expect(await cache.invalidateTags(['t'])).toBe(2);

    const many = createToolCache({ maxEntries: 100 });
    for (let i = 0; i < 5_000; i++)
      await many.set(key({ argumentsJson: `{"i":${i}}` }), 'v', 60_000, [`tag${i}`]);
    expect(await many.get(key({ argumentsJson: '{"i":4999}' }))).toBe('v');
    expect(await many.get(key({ argumentsJson: '{"i":0}' }))).toBeUndefined();
  });

  test('a write invalidates every read of that user about the object, across tools', async () => {
    const cache = createToolCache();
    const mine = cacheTags('u_1001', 't_1', order);
    await cache.set(key(), 'detail', 60_000, mine);
    await cache.set(key({ tool: 'get_dispatch_plan' }), 'plan', 60_000, mine);
    const other = { order_id: '202604100042' };
    const otherKey = key({ argumentsJson: JSON.stringify(other) });
    await cache.set(otherKey, 'other order', 60_000, cacheTags('u_1001', 't_1', other));
    const theirs = key({ userId: 'u_2002' });
    await cache.set(theirs, 'their view', 60_000, cacheTags('u_2002', 't_1', order));

    // create_ticket{order_id, category, description} invalidates with its own arguments' tags.
    const write = cacheTags('u_1001', 't_1', { order_id: 202604100018, category: 'x', description: 'y' });
    expect(await cache.invalidateTags(write)).toBe(2);
    expect(await cache.get(key())).toBeUndefined();
    expect(await cache.get(key({ tool: 'get_dispatch_plan' }))).toBeUndefined();
    expect(await cache.get(otherKey)).toBe('other order');
    expect(await cache.get(theirs)).toBe('their view');
    expect(await cache.invalidateTags(write)).toBe(0);
    expect(await cache.invalidateTags([])).toBe(0);
    expect(cache.stats()).toEqual({ hits: 2, misses: 2, invalidations: 2, errors: 0 });
  });

  test('an entry under several tags counts once; expired entries are not counted', async () => {
    const clock = createManualClock();
    const cache = createToolCache({ clock });
    await cache.set(key(), 'v', 60_000, ['a', 'b', 'a']);
    await cache.set(key({ tool: 'short' }), 'v', 10, ['a']);
    await clock.advance(10);
    expect(await cache.invalidateTags(['a', 'b'])).toBe(1);
    expect(cache.stats().invalidations).toBe(1);
  });

  test('rejects invalid options', () => {
    expect(() => createToolCache({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => createToolCache({ redisTimeoutMs: 0 })).toThrow(RangeError);
  });
});
