import { createManualClock } from '@toolmesh/clock';
import { timeoutSignal } from '../src/timeout-signal.ts';

describe('timeoutSignal', () => {
  it('aborts with a TimeoutError once its time passed on the clock', async () => {
    const clock = createManualClock();
    const { signal } = timeoutSignal(clock, 1_000, new AbortController().signal);
    await clock.advance(999);
    expect(signal.aborted).toBe(false);
    await clock.advance(1);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it("aborts with the parent's reason when the parent aborts first, and the timer stays quiet", async () => {
    const clock = createManualClock();
    const parent = new AbortController();
    const { signal } = timeoutSignal(clock, 1_000, parent.signal);
    const reasons: unknown[] = [];
    signal.addEventListener('abort', () => reasons.push(signal.reason));
    const reason = new Error('the caller went away');
    parent.abort(reason);
    await clock.advance(5_000);
    expect(reasons).toEqual([reason]);
  });

  it('is aborted at once for a parent that already was', () => {
    const clock = createManualClock();
    const parent = new AbortController();
    const reason = new Error('over');
    parent.abort(reason);
    const { signal } = timeoutSignal(clock, 1_000, parent.signal);
    expect(signal.reason).toBe(reason);
  });

  it('never times out once cancelled, yet still follows its parent', async () => {
    const clock = createManualClock();
    const parent = new AbortController();
    const timeout = timeoutSignal(clock, 1_000, parent.signal);
    timeout.cancel();
    await clock.advance(5_000);
    expect(timeout.signal.aborted).toBe(false);
    parent.abort(new Error('the call is over'));
    expect(timeout.signal.aborted).toBe(true);
  });
});
