import { createManualClock } from '@toolmesh/clock';
import { createMetricsRegistry } from '@toolmesh/telemetry';
import { createAdmissionLimiter, createConcurrencyLimiter } from '../src/index.ts';

describe('admission limiter', () => {
  test('admits up to the limit, refuses the next at once, and admits again once a slot is back', () => {
    const limiter = createAdmissionLimiter({ limit: 2, clock: createManualClock() });
    const first = limiter.tryAdmit();
    const second = limiter.tryAdmit();
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(limiter.tryAdmit()).toBeUndefined();
    expect(limiter.tryAdmit()).toBeUndefined();
    expect(limiter.inFlight()).toBe(2);
    expect(limiter.shed()).toBe(2);
    first?.();
    // Giving a slot back twice frees one slot, not two.
    first?.();
    expect(limiter.inFlight()).toBe(1);
    const third = limiter.tryAdmit();
    expect(third).toBeDefined();
    expect(limiter.tryAdmit()).toBeUndefined();
    second?.();
    third?.();
    expect(limiter.inFlight()).toBe(0);
    expect(limiter.shed()).toBe(3);
  });

  test('full() only peeks; shedIfFull() counts a refusal like tryAdmit does, and only while the bound is reached', async () => {
    const registry = createMetricsRegistry();
    const limiter = createAdmissionLimiter({
      limit: 1,
      clock: createManualClock(),
      metrics: { registry, prefix: 'toolmesh_turns', help: 'Chat turns' },
    });
    expect(limiter.full()).toBe(false);
    expect(limiter.shedIfFull()).toBe(false);
    expect(limiter.shed()).toBe(0);
    const release = limiter.tryAdmit();
    // Peeking takes no slot and counts nothing, however often.
    for (let i = 0; i < 3; i++) expect(limiter.full()).toBe(true);
    expect(limiter.inFlight()).toBe(1);
    expect(limiter.shed()).toBe(0);
    expect(limiter.shedIfFull()).toBe(true);
    expect(limiter.tryAdmit()).toBeUndefined();
    expect(limiter.shed()).toBe(2);
    expect(await registry.metrics()).toMatch(/^toolmesh_turns_shed_total(\{[^}]*\})? 2$/m);
    release?.();
    expect(limiter.full()).toBe(false);
    expect(limiter.shedIfFull()).toBe(false);
    expect(limiter.shed()).toBe(2);
    expect(limiter.inFlight()).toBe(0);
  });

  test('a refusal counted by shedIfFull() weighs on the retry hint as one from tryAdmit()', async () => {
    const hints = [true, false].map((viaPeek) => {
      const limiter = createAdmissionLimiter({
        limit: 1,
        clock: createManualClock(),
        maxRetryAfterMs: 10_000,
      });
      limiter.tryAdmit();
      for (let i = 0; i < 5; i++) {
        if (viaPeek) limiter.shedIfFull();
        else limiter.tryAdmit();
      }
      return limiter.retryAfterMs();
    });
    expect(hints[0]).toBe(hints[1]);
    expect(hints[0]).toBeGreaterThan(1_000);
  });

  test('the retry hint follows how long admitted work held its slots, within its bounds', async () => {
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({
      limit: 4,
      clock,
      minRetryAfterMs: 50,
      maxRetryAfterMs: 2_000,
    });
    // Nothing finished yet: 1 s.
    expect(limiter.retryAfterMs()).toBe(1_000);
    const hold = async (ms: number) => {
      const release = limiter.tryAdmit();
      await clock.advance(ms);
      release?.();
    };
    await hold(300);
    expect(limiter.retryAfterMs()).toBe(300);
    // A running mean: one long turn moves it a tenth of the way.
    await hold(1_300);
    expect(limiter.retryAfterMs()).toBe(400);
    for (let i = 0; i < 100; i++) await hold(10);
    expect(limiter.retryAfterMs()).toBe(50);
    for (let i = 0; i < 100; i++) await hold(60_000);
    expect(limiter.retryAfterMs()).toBe(2_000);
  });

  test('the retry hint grows with how many callers are refused per caller admitted', async () => {
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({ limit: 1, clock, maxRetryAfterMs: 10_000 });
    // Turns of 100 ms, one after the other: the mean hold time is 100 ms.
    for (let i = 0; i < 50; i++) {
      const release = limiter.tryAdmit();
      await clock.advance(100);
      release?.();
    }
    expect(limiter.retryAfterMs()).toBe(100);
    // Ten seconds later the earlier admissions have faded to almost nothing; one turn runs and
    // 20 callers are refused meanwhile: ~20 refused per admitted.
    await clock.advance(10_000);
    const release = limiter.tryAdmit();
    for (let i = 0; i < 20; i++) expect(limiter.tryAdmit()).toBeUndefined();
    const crowded = limiter.retryAfterMs();
    expect(crowded).toBeGreaterThan(1_500);
    expect(crowded).toBeLessThanOrEqual(2_000);
    release?.();
    // Once the refusals have faded, the hint is the mean hold time again.
    await clock.advance(30_000);
    expect(limiter.retryAfterMs()).toBe(100);
  });

  test('while more callers are refused than admitted the hint grows step by step, and shrinks once fewer are', async () => {
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({ limit: 2, clock, maxRetryAfterMs: 10_000 });
    // Every 100 ms: `admit` turns of 100 ms run, `refuse` callers are refused; the hints given.
    const tick = async (admit: number, refuse: number) => {
      const releases = Array.from({ length: admit }, () => limiter.tryAdmit());
      const hints: number[] = [];
      for (let i = 0; i < refuse; i++) {
        expect(limiter.tryAdmit()).toBeUndefined();
        hints.push(limiter.retryAfterMs());
      }
      await clock.advance(100);
      for (const release of releases) release?.();
      return hints;
    };
    // Five refused per admitted: each second's hint is about the previous one's times five, to the ceiling.
    await tick(2, 0);
    const growing: number[] = [];
    for (let second = 0; second < 6; second++) {
      for (let i = 0; i < 10; i++) await tick(2, 10);
      growing.push((await tick(2, 10)).at(-1) as number);
    }
    expect(growing[0]).toBeLessThan(2_500);
    expect(growing[1]).toBeGreaterThan(2 * (growing[0] as number));
    expect(growing.at(-1)).toBe(10_000);
    // One refused per four admitted: the hint comes down a step a second, not at once, to the hold time.
    const shrinking: number[] = [];
    for (let second = 0; second < 15; second++) {
      for (let i = 0; i < 10; i++) await tick(2, i % 2);
      shrinking.push((await tick(2, 1)).at(-1) as number);
    }
    expect(shrinking[0]).toBeGreaterThan(2_000);
    expect(shrinking.at(-1)).toBe(100);
    for (let i = 1; i < shrinking.length; i++) {
      expect(shrinking[i]).toBeLessThanOrEqual(shrinking[i - 1] as number);
    }
  });

  test('in flight, the bound and refusals are metrics of the process', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const limiter = createAdmissionLimiter({
      limit: 1,
      clock: createManualClock(),
      metrics: { registry, prefix: 'toolmesh_turns', help: 'Chat turns' },
    });
    const release = limiter.tryAdmit();
    limiter.tryAdmit();
    const text = await registry.metrics();
    expect(text).toMatch(/^toolmesh_turns_in_flight(\{[^}]*\})? 1$/m);
    expect(text).toMatch(/^toolmesh_turns_in_flight_limit(\{[^}]*\})? 1$/m);
    expect(text).toMatch(/^toolmesh_turns_shed_total(\{[^}]*\})? 1$/m);
    release?.();
    expect(await registry.metrics()).toMatch(/^toolmesh_turns_in_flight(\{[^}]*\})? 0$/m);
  });

  test('an adaptive bound is a metric of the process beside its ceiling', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    const clock = createManualClock();
    const limiter = createAdmissionLimiter({
      limit: 16,
      adaptive: { minLimit: 2 },
      clock,
      metrics: { registry, prefix: 'toolmesh_turns', help: 'Chat turns' },
    });
    expect(await registry.metrics()).toMatch(/^toolmesh_turns_admission_limit(\{[^}]*\})? 16$/m);
    // Turns of 100 ms, 16 at once, for 2 s: the baseline; then 4 s turns, the same 16 at once.
    const run = async (ms: number) => {
      const releases = Array.from({ length: limiter.limit }, () => limiter.tryAdmit());
      await clock.advance(ms);
      for (const release of releases) release?.();
    };
    for (let i = 0; i < 20; i++) await run(100);
    for (let i = 0; i < 3; i++) await run(4_000);
    expect(limiter.limit).toBeLessThan(16);
    expect(limiter.maxLimit).toBe(16);
    const text = await registry.metrics();
    expect(text).toMatch(new RegExp(`^toolmesh_turns_admission_limit(\\{[^}]*\\})? ${limiter.limit}$`, 'm'));
    expect(text).toMatch(/^toolmesh_turns_in_flight_limit(\{[^}]*\})? 16$/m);
    expect(text).toMatch(/^toolmesh_turns_latency_baseline_seconds(\{[^}]*\})? 0.1$/m);
  });

  test('rejects a bound that is not a positive integer', () => {
    expect(() => createAdmissionLimiter({ limit: 0 })).toThrow(RangeError);
    expect(() => createAdmissionLimiter({ limit: 1.5 })).toThrow(RangeError);
  });
});

describe('concurrency limiter tryAcquire', () => {
  test('takes a free slot without waiting, and never overtakes a caller already queued', async () => {
    const limiter = createConcurrencyLimiter({ limit: 1, clock: createManualClock() });
    const held = limiter.tryAcquire();
    expect(held).toBeDefined();
    expect(limiter.tryAcquire()).toBeUndefined();
    const queued = limiter.acquire();
    held?.();
    // The slot went to the caller in the queue.
    expect(limiter.tryAcquire()).toBeUndefined();
    (await queued)();
    const again = limiter.tryAcquire();
    expect(again).toBeDefined();
    again?.();
    expect(limiter.inFlight()).toBe(0);
  });
});
