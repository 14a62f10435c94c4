import { createManualClock, systemClock } from '@toolmesh/clock';

describe('manual clock', () => {
  test('timers run in due order when time is advanced, not before', async () => {
    const clock = createManualClock({ start: 1_000 });
    const ran: string[] = [];
    clock.setTimeout(() => ran.push('b'), 200);
    clock.setTimeout(() => ran.push('a'), 100);
    await clock.advance(99);
    expect(ran).toEqual([]);
    await clock.advance(1);
    expect(ran).toEqual(['a']);
    expect(clock.now()).toBe(1_100);
    await clock.advance(500);
    expect(ran).toEqual(['a', 'b']);
    expect(clock.now()).toBe(1_600);
  });

  test('intervals repeat and stop when cancelled', async () => {
    const clock = createManualClock();
    let ticks = 0;
    const timer = clock.setInterval(() => {
      ticks += 1;
    }, 10);
    await clock.advance(35);
    expect(ticks).toBe(3);
    timer.cancel();
    await clock.advance(100);
    expect(ticks).toBe(3);
    expect(clock.pending()).toBe(0);
  });

  test('sleep resolves at its time, and work chained after it runs within the same advance', async () => {
    const clock = createManualClock();
    const seen: number[] = [];
    void (async () => {
      await clock.sleep(50);
      seen.push(clock.now());
      await clock.sleep(50);
      seen.push(clock.now());
    })();
    await clock.advance(100);
    expect(seen).toEqual([clock.now() - 50, clock.now()]);
  });

  test('an aborted sleep rejects with the reason and leaves no timer behind', async () => {
    const clock = createManualClock();
    const abort = new AbortController();
    const slept = clock.sleep(1_000, abort.signal);
    abort.abort(new Error('cancelled'));
    await expect(slept).rejects.toThrow('cancelled');
    expect(clock.pending()).toBe(0);
  });

  test('runNext jumps to the next timer', async () => {
    const clock = createManualClock({ start: 0 });
    let fired = false;
    clock.setTimeout(() => {
      fired = true;
    }, 60_000);
    expect(await clock.runNext()).toBe(true);
    expect(fired).toBe(true);
    expect(clock.now()).toBe(60_000);
    expect(await clock.runNext()).toBe(false);
  });

  test('the system clock sleeps on real timers and honours abort', async () => {
    const abort = new AbortController();
    const slept = systemClock.sleep(60_000, abort.signal);
    abort.abort(new Error('stop'));
    await expect(slept).rejects.toThrow('stop');
    await expect(systemClock.sleep(0)).resolves.toBeUndefined();
  });
});
