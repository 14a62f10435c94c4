import { createManualClock } from '@toolmesh/clock';
import { createRateLimiter } from '../src/index.ts';

describe('in-process rate limiter', () => {
  test('allows the burst, then refills at the rate', async () => {
    const clock = createManualClock();
    const limiter = createRateLimiter({ clock });
    const rule = { ratePerSec: 4, burst: 3 };
    expect(limiter.backend()).toBe('memory');
    const first = await Promise.all([1, 2, 3].map(() => limiter.take('k', rule)));
    expect(first.map((d) => d.remaining)).toEqual([2, 1, 0]);
    expect(first.every((d) => d.allowed && d.retryAfterMs === 0)).toBe(true);

    const denied = await limiter.take('k', rule);
    expect(denied).toEqual({ allowed: false, retryAfterMs: 250, remaining: 0 });
    await clock.advance(249);
    expect((await limiter.take('k', rule)).allowed).toBe(false);
    await clock.advance(1);
    expect(await limiter.take('k', rule)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 0 });

    // Refill never exceeds the burst, however long the key was idle.
    await clock.advance(60_000);
    expect((await limiter.take('k', rule)).remaining).toBe(2);
  });

  test('exact fractional refills are not lost to rounding', async () => {
    const clock = createManualClock();
    const limiter = createRateLimiter({ clock });
    const rule = { ratePerSec: 10, burst: 1 };
    expect((await limiter.take('k', rule)).allowed).toBe(true);
    for (let i = 0; i < 30; i++) {
      await clock.advance(100);
      expect((await limiter.take('k', rule)).allowed).toBe(true);
    }
  });

  test('costs and invalid rules', async () => {
    const clock = createManualClock();
    const limiter = createRateLimiter({ clock });
    const rule = { ratePerSec: 2, burst: 10 };
    expect(await limiter.take('k', rule, 8)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 2 });
    const denied = await limiter.take('k', rule, 5);
    expect(denied).toEqual({ allowed: false, retryAfterMs: 1500, remaining: 2 });
    // A cost of 0 only looks.
    expect(await limiter.take('k', rule, 0)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 2 });
    // retryAfterMs is exactly when the same cost succeeds.
    await clock.advance(denied.retryAfterMs - 1);
    expect((await limiter.take('k', rule, 5)).allowed).toBe(false);
    await clock.advance(1);
    expect(await limiter.take('k', rule, 5)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 0 });
    await expect(limiter.take('k', rule, 11)).rejects.toThrow(RangeError);
    await expect(limiter.take('k', { ratePerSec: 0, burst: 1 })).rejects.toThrow(RangeError);
    await expect(limiter.take('k', { ratePerSec: 1, burst: Number.NaN })).rejects.toThrow(RangeError);
  });

  test('keys are isolated', async () => {
    const clock = createManualClock();
    const limiter = createRateLimiter({ clock });
    const rule = { ratePerSec: 1, burst: 2 };
    await limiter.take('a', rule);
    await limiter.take('a', rule);
    expect((await limiter.take('a', rule)).allowed).toBe(false);
    expect(await limiter.take('b', rule)).toEqual({ allowed: true, retryAfterMs: 0, remaining: 1 });
  });

  test('holds at most maxKeys buckets, forgetting the least recently used', async () => {
    const clock = createManualClock();
    const limiter = createRateLimiter({ clock, maxKeys: 2 });
    const rule = { ratePerSec: 0.001, burst: 1 };
    for (const key of ['a', 'b', 'c']) expect((await limiter.take(key, rule)).allowed).toBe(true);
    // c and b are remembered (empty); a was evicted, so it starts over with a full bucket.
    expect((await limiter.take('c', rule)).allowed).toBe(false);
    expect((await limiter.take('b', rule)).allowed).toBe(false);
    expect((await limiter.take('a', rule)).allowed).toBe(true);
    // Taking a evicted c (least recently used), b is still held.
    expect((await limiter.take('b', rule)).allowed).toBe(false);
    expect((await limiter.take('c', rule)).allowed).toBe(true);
  });

  test('many keys stay within the bound and keep answering', async () => {
    const limiter = createRateLimiter({ maxKeys: 1000 });
    const rule = { ratePerSec: 1, burst: 1 };
    for (let i = 0; i < 20_000; i++) expect((await limiter.take(`k${i}`, rule)).allowed).toBe(true);
    expect((await limiter.take('k19999', rule)).allowed).toBe(false);
  });
});
