import { createManualClock, type ManualClock } from '@toolmesh/clock';
import { type AdmissionLimiter, createAdaptiveLimit, createAdmissionLimiter } from '../src/index.ts';

// A process's turns in rounds, on a manual clock: `callers` ask at once, the limiter admits what
// its bound allows, the admitted ones all take `latencyOf(admitted)` ms, then end together.
async function round(
  limiter: AdmissionLimiter,
  clock: ManualClock,
  callers: number,
  latencyOf: (admitted: number) => number,
): Promise<{ admitted: number; latencyMs: number }> {
  const releases = [];
  for (let i = 0; i < callers; i++) {
    const release = limiter.tryAdmit();
    if (release) releases.push(release);
  }
  const latencyMs = latencyOf(releases.length);
  await clock.advance(latencyMs);
  for (const release of releases) release('succeeded');
  return { admitted: releases.length, latencyMs };
}

// Runs rounds for about `ms` of clock time; returns the last one.
async function rounds(
  limiter: AdmissionLimiter,
  clock: ManualClock,
  ms: number,
  callers: number,
  latencyOf: (admitted: number) => number,
) {
  const until = clock.now() + ms;
  let last = { admitted: 0, latencyMs: 0 };
  while (clock.now() < until) last = await round(limiter, clock, callers, latencyOf);
  return last;
}

// A saturated machine: it finishes 40 turns a second whatever the concurrency, and a turn alone
// takes 100 ms, so n turns at once take max(100, n × 25) ms each (Little's law).
const saturated = (admitted: number) => Math.max(100, admitted * 25);

describe('adaptive limit', () => {
  test('shrinks when latency grows under load, and grows back to the ceiling when latency returns to its floor', async () => {
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({ limit: 64, adaptive: { minLimit: 4 }, clock });
    // Light load (4 at once): turns take 100 ms, the baseline; the bound stays at the ceiling.
    await rounds(limiter, clock, 3_000, 4, saturated);
    expect(limiter.limit).toBe(64);

    // 200 callers: 64 admitted take 1.6 s each, 16× the baseline; the bound comes down until
    // admitted turns take at most about twice the baseline again.
    await rounds(limiter, clock, 30_000, 200, saturated);
    expect(limiter.limit).toBeLessThanOrEqual(10);
    expect(limiter.limit).toBeGreaterThanOrEqual(4);
    const bound = limiter.limit;
    const loaded = await round(limiter, clock, 200, saturated);
    expect(loaded.admitted).toBe(bound);
    expect(loaded.latencyMs).toBeLessThanOrEqual(250);
    // Beyond the current bound callers are refused at once.
    const held = [];
    for (let i = 0; i < limiter.limit; i++) held.push(limiter.tryAdmit());
    expect(held.every(Boolean)).toBe(true);
    expect(limiter.tryAdmit()).toBeUndefined();
    for (const release of held) release?.('succeeded');

    // The machine recovers (turns take 100 ms again at any concurrency): the bound grows back.
    await rounds(limiter, clock, 30_000, 200, () => 100);
    expect(limiter.limit).toBe(64);
    expect((await round(limiter, clock, 200, () => 100)).admitted).toBe(64);
  });

  test('a closed loop of fewer callers than the bound is slower only by its own number: the bound stays', async () => {
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({ limit: 64, adaptive: { minLimit: 4 }, clock });
    // The baseline at light load: 100 ms.
    await rounds(limiter, clock, 3_000, 4, saturated);
    // 32 callers that ask again as soon as they are answered take 800 ms each, 8× the baseline,
    // but none was ever refused: no slot was short, so none is taken away.
    const last = await rounds(limiter, clock, 30_000, 32, saturated);
    expect(last).toEqual({ admitted: 32, latencyMs: 800 });
    expect(limiter.limit).toBe(64);
    // 200 callers reach the bound: now the same latency is a queue at it, and the bound comes down.
    await rounds(limiter, clock, 30_000, 200, saturated);
    expect(limiter.limit).toBeLessThanOrEqual(10);
  });

  test('a slower model takes the bound to its floor, then becomes the baseline and the bound grows back', async () => {
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({ limit: 64, adaptive: { minLimit: 4 }, clock });
    await rounds(limiter, clock, 3_000, 32, () => 100);
    expect(limiter.limit).toBe(64);
    // Every turn now takes 3 s whatever the concurrency: not a queue, a slower backend.
    let lowest = 64;
    const until = clock.now() + 120_000;
    while (clock.now() < until) {
      await round(limiter, clock, 64, () => 3_000);
      lowest = Math.min(lowest, limiter.limit);
    }
    // It first looked like a queue …
    expect(lowest).toBe(4);
    // … but at the floor latency did not fall: that is the work's own latency now.
    expect(limiter.limit).toBe(64);
  });

  test('a refusal or a deadline further in shrinks the bound even when latency does not show it', async () => {
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({ limit: 32, adaptive: { minLimit: 2 }, clock });
    await rounds(limiter, clock, 3_000, 32, () => 100);
    expect(limiter.limit).toBe(32);
    const until = clock.now() + 3_000;
    while (clock.now() < until) {
      const releases = [];
      for (let i = 0; i < 32; i++) releases.push(limiter.tryAdmit());
      await clock.advance(100);
      for (const release of releases) release?.('overloaded');
    }
    expect(limiter.limit).toBeLessThan(32);
    expect(limiter.limit).toBeGreaterThanOrEqual(2);
  });

  test('failed calls teach it nothing: fast failures do not lower the baseline', async () => {
    const clock = createManualClock();
    const adaptive = createAdaptiveLimit({ maxLimit: 16, clock });
    const runAll = async (n: number, ms: number, outcome: 'succeeded' | 'failed') => {
      const ends = Array.from({ length: n }, () => adaptive.started());
      await clock.advance(ms);
      for (const end of ends) end(outcome);
    };
    for (let i = 0; i < 10; i++) await runAll(8, 200, 'succeeded');
    expect(adaptive.baselineMs()).toBe(200);
    for (let i = 0; i < 50; i++) await runAll(8, 1, 'failed');
    expect(adaptive.baselineMs()).toBe(200);
    // Ending twice counts once.
    const end = adaptive.started();
    end('succeeded');
    end('succeeded');
    expect(adaptive.current()).toBe(16);
  });

  test('only turns that never ran beside more than the floor raise the baseline', async () => {
    const clock = createManualClock();
    const adaptive = createAdaptiveLimit({ maxLimit: 16, minLimit: 4, clock });
    const runAll = async (n: number, ms: number) => {
      const ends = Array.from({ length: n }, () => adaptive.started());
      await clock.advance(ms);
      for (const end of ends) end('succeeded');
    };
    for (let i = 0; i < 10; i++) await runAll(4, 100);
    expect(adaptive.baselineMs()).toBe(100);
    // 8 at once, 150 ms: within tolerance, but it could be a queue: the baseline stays.
    for (let i = 0; i < 20; i++) await runAll(8, 150);
    expect(adaptive.baselineMs()).toBe(100);
    // A turn alone whose life saw 8 at once does not count as alone either.
    for (let i = 0; i < 10; i++) {
      const lone = adaptive.started();
      await runAll(7, 150);
      lone('succeeded');
    }
    expect(adaptive.baselineMs()).toBe(100);
    // 4 at once (the floor), 150 ms: that is the work's own latency now.
    for (let i = 0; i < 60; i++) await runAll(4, 150);
    expect(adaptive.baselineMs()).toBeGreaterThan(145);
    expect(adaptive.baselineMs()).toBeLessThanOrEqual(150);
  });

  test('stays within [floor, ceiling] whatever latencies it sees', async () => {
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({ limit: 20, adaptive: { minLimit: 3 }, clock });
    // A fixed pseudo-random sequence (no flakiness): latencies from 1 ms to 20 s.
    let seed = 42;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 2_000; i++) {
      await round(limiter, clock, 1 + Math.floor(next() * 40), () => 1 + Math.floor(next() ** 3 * 20_000));
      expect(limiter.limit).toBeGreaterThanOrEqual(3);
      expect(limiter.limit).toBeLessThanOrEqual(20);
    }
  });

  test('the floor is at most the ceiling; bad settings are refused', () => {
    expect(createAdaptiveLimit({ maxLimit: 2, minLimit: 4 }).minLimit).toBe(2);
    expect(createAdaptiveLimit({ maxLimit: 2 }).current()).toBe(2);
    expect(() => createAdaptiveLimit({ maxLimit: 0 })).toThrow(RangeError);
    expect(() => createAdaptiveLimit({ maxLimit: 8, minLimit: 0 })).toThrow(RangeError);
    expect(() => createAdaptiveLimit({ maxLimit: 8, tolerance: 0.5 })).toThrow(RangeError);
  });
});
