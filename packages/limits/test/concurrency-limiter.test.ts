import { createManualClock } from '@toolmesh/clock';
import { createConcurrencyLimiter, createKeyedConcurrencyLimiter, LimitExceededError } from '../src/index.ts';

/** Lets other tasks run `turns` times: work that takes a while, without a timer. */
async function yieldTurns(turns: number): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('concurrency limiter', () => {
  test('never runs more than the limit at once', async () => {
    const limiter = createConcurrencyLimiter({ limit: 5 });
    let running = 0;
    let most = 0;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        limiter.run(async () => {
          running++;
          most = Math.max(most, running);
          await yieldTurns(i % 3);
          running--;
          return i;
        }),
      ),
    );
    expect(results).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(most).toBe(5);
    expect(limiter.inFlight()).toBe(0);
    expect(limiter.queued()).toBe(0);
  });

  test('waiters are served first come, first served', async () => {
    const limiter = createConcurrencyLimiter({ limit: 1 });
    const release = await limiter.acquire();
    const order: number[] = [];
    const waiting = [1, 2, 3].map((n) => limiter.run(() => void order.push(n)));
    release();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
  });

  test('a full queue turns callers away at once', async () => {
    const limiter = createConcurrencyLimiter({ limit: 1, maxQueue: 2 });
    const release = await limiter.acquire();
    const queued = [limiter.acquire(), limiter.acquire()];
    expect(limiter.queued()).toBe(2);
    const rejected = limiter.acquire();
    await expect(rejected).rejects.toBeInstanceOf(LimitExceededError);
    await expect(rejected).rejects.toMatchObject({ reason: 'queue_full' });
    release();
    (await queued[0])?.();
    (await queued[1])?.();
    expect(limiter.inFlight()).toBe(0);

    const shedding = createConcurrencyLimiter({ limit: 1, maxQueue: 0 });
    const held = await shedding.acquire();
    await expect(shedding.acquire()).rejects.toMatchObject({ reason: 'queue_full' });
    held();
  });

  test('a caller waiting too long gives up with queue_timeout', async () => {
    const clock = createManualClock();
    const limiter = createConcurrencyLimiter({ limit: 1, queueTimeoutMs: 30, clock });
    const release = await limiter.acquire();
    let outcome: unknown;
    void limiter.acquire().then(
      () => {
        outcome = 'granted';
      },
      (error: unknown) => {
        outcome = error;
      },
    );
    await clock.advance(29);
    expect(outcome).toBeUndefined();
    expect(limiter.queued()).toBe(1);
    await clock.advance(1);
    expect(outcome).toBeInstanceOf(LimitExceededError);
    expect((outcome as LimitExceededError).reason).toBe('queue_timeout');
    expect(limiter.queued()).toBe(0);
    // A granted waiter's timer is gone: time passing later rejects nobody.
    const waiting = limiter.acquire();
    release();
    const next = await waiting;
    expect(clock.pending()).toBe(0);
    next();
    expect(limiter.inFlight()).toBe(0);
  });

  test('an aborted waiter leaves the queue with the signal reason', async () => {
    const limiter = createConcurrencyLimiter({ limit: 1 });
    const release = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    const behind = limiter.acquire();
    expect(limiter.queued()).toBe(2);
    const reason = new Error('caller went away');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(limiter.queued()).toBe(1);
    // The slot goes to the next waiter, not to the aborted one.
    release();
    const next = await behind;
    expect(limiter.inFlight()).toBe(1);
    next();
    expect(limiter.inFlight()).toBe(0);
    await expect(limiter.acquire(AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(limiter.inFlight()).toBe(0);
  });

  test('release is idempotent', async () => {
    const limiter = createConcurrencyLimiter({ limit: 1 });
    const first = await limiter.acquire();
    const second = limiter.acquire();
    first();
    first();
    const secondRelease = await second;
    expect(limiter.inFlight()).toBe(1);
    // A double release must not have freed a second slot.
    const third = limiter.acquire();
    expect(limiter.queued()).toBe(1);
    secondRelease();
    secondRelease();
    (await third)();
    expect(limiter.inFlight()).toBe(0);
    expect(limiter.queued()).toBe(0);
  });

  test('run releases when the task throws', async () => {
    const limiter = createConcurrencyLimiter({ limit: 1 });
    await expect(
      limiter.run(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(limiter.inFlight()).toBe(0);
    expect(() => createConcurrencyLimiter({ limit: 0 })).toThrow(RangeError);
  });
});

describe('keyed concurrency limiter', () => {
  const limitFor = (key: string) => (key === 'free' ? 0 : key === 'slow' ? 1 : 2);

  test('keys are isolated and idle keys are dropped', async () => {
    // A clock nobody advances: no waiter here can time out, however slow the machine.
    const limiter = createKeyedConcurrencyLimiter({ limitFor, clock: createManualClock() });
    const slow = await limiter.acquire('slow');
    const slowWaiting = limiter.acquire('slow');
    expect(limiter.queued('slow')).toBe(1);
    // Another key is not held up by the busy one.
    const fast = await Promise.all([limiter.acquire('fast'), limiter.acquire('fast')]);
    expect(limiter.inFlight('fast')).toBe(2);
    expect(limiter.size()).toBe(2);
    for (const release of fast) release();
    expect(limiter.size()).toBe(1);
    slow();
    const slowNext = await slowWaiting;
    expect(limiter.inFlight('slow')).toBe(1);
    slowNext();
    slowNext();
    expect(limiter.size()).toBe(0);
    expect(limiter.inFlight('slow')).toBe(0);
  });

  test('limit 0 is unlimited and untracked', async () => {
    const limiter = createKeyedConcurrencyLimiter({ limitFor, maxQueue: 0 });
    const releases = await Promise.all(Array.from({ length: 50 }, () => limiter.acquire('free')));
    expect(limiter.size()).toBe(0);
    for (const release of releases) release();
  });

  test('rejected callers do not leave semaphores behind', async () => {
    const clock = createManualClock();
    const limiter = createKeyedConcurrencyLimiter({ limitFor, maxQueue: 1, queueTimeoutMs: 20, clock });
    const reason = new Error('gone');
    await expect(limiter.acquire('k', AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(limiter.size()).toBe(0);

    const held = await limiter.acquire('slow');
    const timedOut = expect(limiter.acquire('slow')).rejects.toMatchObject({ reason: 'queue_timeout' });
    await clock.advance(20);
    await timedOut;
    const waiting = limiter.acquire('slow');
    await expect(limiter.acquire('slow')).rejects.toMatchObject({ reason: 'queue_full' });
    held();
    (await waiting)();
    expect(limiter.size()).toBe(0);

    // A stale release of an old semaphore does not disturb the key's new one.
    const old = await limiter.acquire('slow');
    old();
    const current = await limiter.acquire('slow');
    old();
    expect(limiter.inFlight('slow')).toBe(1);
    current();
    expect(limiter.size()).toBe(0);
    await expect(limiter.run('fast', async () => 'done')).resolves.toBe('done');
  });
});
