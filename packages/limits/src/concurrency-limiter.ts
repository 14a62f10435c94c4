import { type Clock, systemClock } from '@toolmesh/clock';
import { LimitExceededError } from './limit-exceeded-error.ts';

/** Gives a slot back; calling it again does nothing. */
export type Release = () => void;

/** Options of {@link createConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** Slots held at once; a positive integer. */
  limit: number;
  /** Callers allowed to wait for a slot; default 1000. 0 sheds load as soon as all slots are taken. */
  maxQueue?: number;
  /** Longest wait for a slot; default 30 s, the default deadline of our gRPC clients. */
  queueTimeoutMs?: number;
  /** Times the queue timeout; default the system clock. */
  clock?: Clock;
}

/** A semaphore with a bounded, first-come first-served wait queue. */
export interface ConcurrencyLimiter {
  /**
   * Resolves with a release once a slot is free. Rejects with a {@link LimitExceededError}
   * at once when the queue is full or once the caller waited `queueTimeoutMs`, and with the
   * signal's reason when the signal aborts first; a rejected caller leaves the queue.
   */
  acquire(signal?: AbortSignal): Promise<Release>;
  /**
   * A slot now, or undefined when none is free (or callers wait for one): never waits, so a
   * caller that sheds load answers at once. A newcomer never overtakes the queue.
   */
  tryAcquire(): Release | undefined;
  /** Runs `fn` holding a slot and releases it however `fn` ends. */
  run<T>(fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Slots held. */
  inFlight(): number;
  /** Callers waiting for a slot. */
  queued(): number;
}

interface Waiter {
  grant: () => void;
  /** Removes the waiter's timer and abort listener. */
  dispose: () => void;
}

/** Creates a semaphore whose waiting is bounded in length and in time. */
export function createConcurrencyLimiter(options: ConcurrencyLimiterOptions): ConcurrencyLimiter {
  const { limit } = options;
  const maxQueue = options.maxQueue ?? 1000;
  const queueTimeoutMs = options.queueTimeoutMs ?? 30_000;
  const clock = options.clock ?? systemClock;
  if (!(Number.isInteger(limit) && limit > 0))
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  if (!(maxQueue >= 0)) throw new RangeError(`maxQueue must not be negative, got ${maxQueue}`);
  let held = 0;
  // A Set keeps insertion order (FIFO) and lets a timed-out or aborted waiter leave in O(1).
  const waiters = new Set<Waiter>();

  const makeRelease = (): Release => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held--;
      // Hand the slot over directly so a newcomer cannot overtake the queue.
      const next = waiters.values().next();
      if (next.done) return;
      waiters.delete(next.value);
      next.value.dispose();
      held++;
      next.value.grant();
    };
  };

  const acquire = (signal?: AbortSignal): Promise<Release> => {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (held < limit && waiters.size === 0) {
      held++;
      return Promise.resolve(makeRelease());
    }
    if (waiters.size >= maxQueue) return Promise.reject(new LimitExceededError('queue_full'));
    return new Promise<Release>((resolve, reject) => {
      const leave = (error: unknown) => {
        waiters.delete(waiter);
        waiter.dispose();
        reject(error);
      };
      const onAbort = () => leave(signal?.reason);
      const timer = clock.setTimeout(() => leave(new LimitExceededError('queue_timeout')), queueTimeoutMs);
      const waiter: Waiter = {
        grant: () => resolve(makeRelease()),
        dispose: () => {
          timer.cancel();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      waiters.add(waiter);
    });
  };

  return {
    acquire,
    tryAcquire() {
      if (held >= limit || waiters.size > 0) return undefined;
      held++;
      return makeRelease();
    },
    async run(fn, signal) {
      const release = await acquire(signal);
      try {
        return await fn();
      } finally {
        release();
      }
    },
    inFlight: () => held,
    queued: () => waiters.size,
  };
}
