import type { Clock } from '@toolmesh/clock';
import { type ConcurrencyLimiter, createConcurrencyLimiter, type Release } from './concurrency-limiter.ts';

/** Options of {@link createKeyedConcurrencyLimiter}. */
export interface KeyedConcurrencyLimiterOptions {
  /** Slots of a key, read when its semaphore is created; 0 means unlimited. */
  limitFor: (key: string) => number;
  /** Waiting callers per key; default 1000. */
  maxQueue?: number;
  /** Longest wait for a slot; default 30 s. */
  queueTimeoutMs?: number;
  /** Times the queue timeouts; default the system clock. */
  clock?: Clock;
}

/** One concurrency limit per key (e.g. per tool), each with its own queue. */
export interface KeyedConcurrencyLimiter {
  /** Like {@link ConcurrencyLimiter.acquire}, on the semaphore of `key`. */
  acquire(key: string, signal?: AbortSignal): Promise<Release>;
  /** Runs `fn` holding a slot of `key` and releases it however `fn` ends. */
  run<T>(key: string, fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Slots held for `key`; unlimited keys are not tracked and report 0. */
  inFlight(key: string): number;
  /** Callers waiting for `key`. */
  queued(key: string): number;
  /** Keys with a live semaphore; idle keys are dropped, so this stays bounded by activity. */
  size(): number;
}

const noop: Release = () => {};

/**
 * Creates semaphores lazily per key and drops each one as soon as nothing holds or
 * awaits it, so arbitrary keys cannot accumulate; a key's limit is therefore re-read
 * whenever it becomes busy again after being idle.
 */
export function createKeyedConcurrencyLimiter(
  options: KeyedConcurrencyLimiterOptions,
): KeyedConcurrencyLimiter {
  const limiters = new Map<string, ConcurrencyLimiter>();

  const dropIfIdle = (key: string, limiter: ConcurrencyLimiter) => {
    // Only the same instance: a stale release must not remove a newer semaphore of the key.
    if (limiters.get(key) === limiter && limiter.inFlight() === 0 && limiter.queued() === 0) {
      limiters.delete(key);
    }
  };

  const acquire = async (key: string, signal?: AbortSignal): Promise<Release> => {
    let limiter = limiters.get(key);
    if (!limiter) {
      const limit = options.limitFor(key);
      if (limit === 0) {
        if (signal?.aborted) throw signal.reason;
        return noop;
      }
      limiter = createConcurrencyLimiter({
        limit,
        maxQueue: options.maxQueue,
        queueTimeoutMs: options.queueTimeoutMs,
        clock: options.clock,
      });
      limiters.set(key, limiter);
    }
    const owner = limiter;
    let release: Release;
    try {
      release = await owner.acquire(signal);
    } catch (error) {
      dropIfIdle(key, owner);
      throw error;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      dropIfIdle(key, owner);
    };
  };

  return {
    acquire,
    async run(key, fn, signal) {
      const release = await acquire(key, signal);
      try {
        return await fn();
      } finally {
        release();
      }
    },
    inFlight: (key) => limiters.get(key)?.inFlight() ?? 0,
    queued: (key) => limiters.get(key)?.queued() ?? 0,
    size: () => limiters.size,
  };
}
