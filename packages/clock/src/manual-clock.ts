import type { Clock, ClockTimer } from './clock.ts';

/** A clock that moves only when told to: time in tests is a fact the test sets, not a race. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, running every timer that falls due, in order, and awaiting the microtasks they start. */
  advance(ms: number): Promise<void>;
  /** Moves time to the next pending timer and runs it; returns false when none is pending. */
  runNext(): Promise<boolean>;
  /** How many timers are pending. */
  pending(): number;
}

/** Options of {@link createManualClock}. */
export interface ManualClockOptions {
  /** Start time in ms since the epoch (default 2026-01-01T00:00:00Z). */
  start?: number;
}

interface Entry {
  id: number;
  due: number;
  fn: () => void;
  every?: number;
}

// Lets promise chains started by a timer settle before the next timer runs or advance() returns.
const settle = async () => {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
  await new Promise<void>((resolve) => setImmediate(resolve));
};

/** Creates a {@link ManualClock}. */
export function createManualClock(options: ManualClockOptions = {}): ManualClock {
  let now = options.start ?? Date.UTC(2026, 0, 1);
  let nextId = 1;
  const entries = new Map<number, Entry>();

  const schedule = (fn: () => void, ms: number, every?: number): ClockTimer => {
    const entry: Entry = { id: nextId++, due: now + Math.max(0, ms), fn, every };
    entries.set(entry.id, entry);
    const timer: ClockTimer = { cancel: () => entries.delete(entry.id), unref: () => timer };
    return timer;
  };

  const earliest = (): Entry | undefined => {
    let first: Entry | undefined;
    for (const e of entries.values())
      if (!first || e.due < first.due || (e.due === first.due && e.id < first.id)) first = e;
    return first;
  };

  const fire = (entry: Entry) => {
    now = Math.max(now, entry.due);
    if (entry.every !== undefined) entry.due = now + Math.max(1, entry.every);
    else entries.delete(entry.id);
    entry.fn();
  };

  const clock: ManualClock = {
    now: () => now,
    setTimeout: (fn, ms) => schedule(fn, ms),
    setInterval: (fn, ms) => schedule(fn, ms, ms),
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const timer = schedule(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        const onAbort = () => {
          timer.cancel();
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    async advance(ms) {
      const target = now + ms;
      await settle();
      for (let entry = earliest(); entry && entry.due <= target; entry = earliest()) {
        fire(entry);
        await settle();
      }
      now = target;
      await settle();
    },
    async runNext() {
      const entry = earliest();
      if (!entry) return false;
      fire(entry);
      await settle();
      return true;
    },
    pending: () => entries.size,
  };
  return clock;
}
