// The circuit breaker on a manual clock: what it refuses, what it lets through and when
// are facts of the calls it made and of the time the test set.
import { createManualClock } from '@toolmesh/clock';
import {
  CircuitOpenError,
  type CircuitState,
  createCircuitBreaker,
  isStorageUnavailable,
} from '../src/index.ts';

/** A dependency that fails while `down`, counting the calls that reached it. */
function dependency() {
  const dep = { down: true, calls: 0 };
  const call = async () => {
    dep.calls++;
    if (dep.down) throw new Error('unreachable');
    return 'ok';
  };
  return { dep, call };
}

/** Resolves when `settle()` is called: a call the test holds in flight. */
function held() {
  let settle: (outcome: 'ok' | Error) => void = () => {};
  const promise = new Promise<string>((resolve, reject) => {
    settle = (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
  });
  return { promise, settle: (outcome: 'ok' | Error) => settle(outcome) };
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (e: unknown) => e,
  );

test('opens after the threshold of consecutive failures and then refuses without calling', async () => {
  const clock = createManualClock();
  const { dep, call } = dependency();
  const breaker = createCircuitBreaker({ failureThreshold: 3, halfOpenAfterMs: 1_000, clock });
  const states: CircuitState[] = [];
  breaker.onStateChange((s) => states.push(s));

  for (let i = 0; i < 2; i++) await expect(breaker.execute(call)).rejects.toThrow('unreachable');
  expect(breaker.state()).toBe('closed');
  await expect(breaker.execute(call)).rejects.toThrow('unreachable');
  expect(breaker.state()).toBe('open');
  expect(states).toEqual(['open']);
  expect(dep.calls).toBe(3);

  for (let i = 0; i < 5; i++) {
    const refused = await refusal(breaker.execute(call));
    expect(refused).toBeInstanceOf(CircuitOpenError);
    expect((refused as CircuitOpenError).retryAfterMs).toBe(1_000);
  }
  expect(dep.calls).toBe(3);
});

test('a success resets the count: only failures in a row open it', async () => {
  const { dep, call } = dependency();
  const breaker = createCircuitBreaker({ failureThreshold: 2, clock: createManualClock() });
  for (let i = 0; i < 3; i++) {
    dep.down = true;
    await expect(breaker.execute(call)).rejects.toThrow('unreachable');
    dep.down = false;
    await expect(breaker.execute(call)).resolves.toBe('ok');
  }
  expect(breaker.state()).toBe('closed');
  expect(dep.calls).toBe(6);
});

test('retryAfterMs counts down as the clock advances; one trial once it is 0; success closes', async () => {
  const clock = createManualClock();
  const { dep, call } = dependency();
  const breaker = createCircuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 10_000, clock });
  const states: CircuitState[] = [];
  breaker.onStateChange((s) => states.push(s));
  await expect(breaker.execute(call)).rejects.toThrow('unreachable');
  expect(breaker.retryAfterMs()).toBe(10_000);

  await clock.advance(4_000);
  expect(breaker.retryAfterMs()).toBe(6_000);
  expect(((await refusal(breaker.execute(call))) as CircuitOpenError).retryAfterMs).toBe(6_000);
  await clock.advance(5_999);
  expect(breaker.retryAfterMs()).toBe(1);
  await expect(breaker.execute(call)).rejects.toBeInstanceOf(CircuitOpenError);
  expect(dep.calls).toBe(1);

  await clock.advance(1);
  expect(breaker.retryAfterMs()).toBe(0);
  // Still open until a call makes the trial.
  expect(breaker.state()).toBe('open');
  dep.down = false;
  await expect(breaker.execute(call)).resolves.toBe('ok');
  expect(dep.calls).toBe(2);
  expect(states).toEqual(['open', 'half-open', 'closed']);
  expect(breaker.state()).toBe('closed');
  expect(breaker.retryAfterMs()).toBe(0);
  await expect(breaker.execute(call)).resolves.toBe('ok');
  expect(dep.calls).toBe(3);
});

test('a failed trial opens it again for a whole new wait', async () => {
  const clock = createManualClock();
  const { dep, call } = dependency();
  const breaker = createCircuitBreaker({ failureThreshold: 2, halfOpenAfterMs: 1_000, clock });
  const states: CircuitState[] = [];
  breaker.onStateChange((s) => states.push(s));
  for (let i = 0; i < 2; i++) await expect(breaker.execute(call)).rejects.toThrow('unreachable');
  await clock.advance(1_000);
  // One failure of the trial is enough, whatever the threshold.
  await expect(breaker.execute(call)).rejects.toThrow('unreachable');
  expect(dep.calls).toBe(3);
  expect(states).toEqual(['open', 'half-open', 'open']);
  expect(breaker.retryAfterMs()).toBe(1_000);
  await clock.advance(999);
  await expect(breaker.execute(call)).rejects.toBeInstanceOf(CircuitOpenError);
  expect(dep.calls).toBe(3);
});

test("duringTrial 'refuse': others are refused while the one trial runs", async () => {
  const clock = createManualClock();
  const breaker = createCircuitBreaker({ failureThreshold: 1, halfOpenAfterMs: 1_000, clock });
  await expect(breaker.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
  await clock.advance(1_000);

  let calls = 0;
  const trial = held();
  const first = breaker.execute(() => {
    calls++;
    return trial.promise;
  });
  expect(breaker.state()).toBe('half-open');
  expect(breaker.retryAfterMs()).toBe(0);
  const other = await refusal(
    breaker.execute(async () => {
      calls++;
      return 'ok';
    }),
  );
  expect(other).toBeInstanceOf(CircuitOpenError);
  expect((other as CircuitOpenError).retryAfterMs).toBe(0);
  expect(calls).toBe(1);
  trial.settle('ok');
  await expect(first).resolves.toBe('ok');
  expect(breaker.state()).toBe('closed');
});

test("duringTrial 'wait': others wait for the trial's verdict, then go through or are refused", async () => {
  const clock = createManualClock();
  const breaker = createCircuitBreaker({
    failureThreshold: 1,
    halfOpenAfterMs: 1_000,
    clock,
    duringTrial: 'wait',
  });
  const calls: string[] = [];
  const through = (name: string, promise: Promise<string>) =>
    breaker.execute(() => {
      calls.push(name);
      return promise;
    });
  await expect(through('down', Promise.reject(new Error('down')))).rejects.toThrow('down');

  // The trial fails: the waiting call is refused with a whole new wait, never called.
  await clock.advance(1_000);
  const failing = held();
  const trial = through('trial 1', failing.promise);
  const waiting = refusal(through('waiter 1', Promise.resolve('ok')));
  await clock.advance(0);
  expect(calls).toEqual(['down', 'trial 1']);
  failing.settle(new Error('still down'));
  await expect(trial).rejects.toThrow('still down');
  const refused = await waiting;
  expect(refused).toBeInstanceOf(CircuitOpenError);
  expect((refused as CircuitOpenError).retryAfterMs).toBe(1_000);
  expect(calls).toEqual(['down', 'trial 1']);

  // The trial succeeds: the waiting call goes through after it.
  await clock.advance(1_000);
  const passing = held();
  const second = through('trial 2', passing.promise);
  const after = through('waiter 2', Promise.resolve('ok'));
  await clock.advance(0);
  expect(calls).toEqual(['down', 'trial 1', 'trial 2']);
  passing.settle('ok');
  await expect(second).resolves.toBe('ok');
  await expect(after).resolves.toBe('ok');
  expect(calls).toEqual(['down', 'trial 1', 'trial 2', 'waiter 2']);
  expect(breaker.state()).toBe('closed');
});

test('errors that are not failures (a cancellation) never count, and a trial ending in one closes it', async () => {
  const clock = createManualClock();
  const cancelled = () => Promise.reject(new DOMException('cancelled', 'AbortError'));
  const isFailure = (e: unknown) => !(e instanceof DOMException && e.name === 'AbortError');
  const breaker = createCircuitBreaker({ failureThreshold: 2, halfOpenAfterMs: 1_000, clock, isFailure });
  const down = () => Promise.reject(new Error('down'));

  for (let i = 0; i < 5; i++)
    await expect(breaker.execute(cancelled)).rejects.toMatchObject({ name: 'AbortError' });
  expect(breaker.state()).toBe('closed');
  // Nor do they reset the count: failure, cancellation, failure is two in a row.
  await expect(breaker.execute(down)).rejects.toThrow('down');
  await expect(breaker.execute(cancelled)).rejects.toMatchObject({ name: 'AbortError' });
  await expect(breaker.execute(down)).rejects.toThrow('down');
  expect(breaker.state()).toBe('open');

  await clock.advance(1_000);
  await expect(breaker.execute(cancelled)).rejects.toMatchObject({ name: 'AbortError' });
  expect(breaker.state()).toBe('closed');
});

test('listeners can stop listening', async () => {
  const breaker = createCircuitBreaker({ failureThreshold: 1, clock: createManualClock() });
  const states: CircuitState[] = [];
  const stop = breaker.onStateChange((s) => states.push(s));
  stop();
  await expect(breaker.execute(() => Promise.reject(new Error('down')))).rejects.toThrow('down');
  expect(breaker.state()).toBe('open');
  expect(states).toEqual([]);
});

test('isStorageUnavailable: connection-level failures, not refused statements', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE', '08006', '57P01'])
    expect(isStorageUnavailable(Object.assign(new Error('x'), { code }))).toBe(true);
  expect(isStorageUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
  expect(isStorageUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
  for (const code of ['23505', '42P01', '53300', 'ENOENT'])
    expect(isStorageUnavailable(Object.assign(new Error('x'), { code }))).toBe(false);
  expect(isStorageUnavailable(undefined)).toBe(false);
  expect(isStorageUnavailable('ECONNREFUSED')).toBe(false);
});
