import { createManualClock } from '@toolmesh/clock';
import { retryWithBackoff } from '@toolmesh/resilience';

const failing = (failures: number) => {
  let calls = 0;
  const fn = async (attemptNo: number) => {
    calls++;
    if (calls <= failures) throw new Error(`failure ${attemptNo}`);
    return `ok after ${attemptNo}`;
  };
  return { fn, calls: () => calls };
};

describe('retryWithBackoff', () => {
  test('pauses up to the doubling ceiling between attempts, on the clock', async () => {
    const clock = createManualClock();
    const { fn, calls } = failing(2);
    // The highest jitter: each pause is its full ceiling (20 ms, then 40 ms).
    const done = retryWithBackoff(fn, {
      shouldRetry: () => true,
      clock,
      initialDelayMs: 20,
      random: () => 0.999_999,
    });
    await clock.advance(0);
    expect(calls()).toBe(1);
    await clock.advance(19);
    expect(calls()).toBe(1);
    await clock.advance(1);
    expect(calls()).toBe(2);
    await clock.advance(39);
    expect(calls()).toBe(2);
    await clock.advance(1);
    await expect(done).resolves.toBe('ok after 3');
  });

  test('the pause never exceeds maxDelayMs', async () => {
    const clock = createManualClock();
    const { fn, calls } = failing(5);
    const done = retryWithBackoff(fn, {
      shouldRetry: () => true,
      clock,
      maxAttempts: 6,
      initialDelayMs: 100,
      maxDelayMs: 150,
      random: () => 0.999_999,
    });
    for (let expected = 2; expected <= 6; expected++) {
      await clock.advance(150);
      expect(calls()).toBe(expected);
    }
    await expect(done).resolves.toBe('ok after 6');
  });

  test('stops when shouldRetry declines or the attempts are spent, with the last error', async () => {
    const clock = createManualClock();
    const declined = retryWithBackoff(failing(5).fn, { shouldRetry: (_e, n) => n < 2, clock });
    const spent = retryWithBackoff(failing(5).fn, { shouldRetry: () => true, maxAttempts: 3, clock });
    const outcomes = Promise.allSettled([declined, spent]);
    await clock.advance(1_000);
    const [first, second] = await outcomes;
    expect(first).toMatchObject({ status: 'rejected', reason: new Error('failure 2') });
    expect(second).toMatchObject({ status: 'rejected', reason: new Error('failure 3') });
  });

  test('a cancelled pause ends the loop with the failure, without another attempt', async () => {
    const clock = createManualClock();
    const abort = new AbortController();
    const { fn, calls } = failing(5);
    const done = retryWithBackoff(fn, { shouldRetry: () => true, clock, signal: abort.signal });
    await clock.advance(0);
    abort.abort();
    await expect(done).rejects.toThrow('failure 1');
    await clock.advance(10_000);
    expect(calls()).toBe(1);
  });
});
