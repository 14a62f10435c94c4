import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { Redis } from 'ioredis';
import { type CacheKey, storageKey } from './cache-key.ts';
import type { CacheStore } from './cache-store.ts';
import { createMemoryStore } from './memory-store.ts';
import { createRedisStore } from './redis-store.ts';

/** The cache operation that failed, as told to {@link ToolCacheOptions.onError}. */
export type CacheOperation = 'get' | 'set' | 'invalidate';

/** Options of {@link createToolCache}. */
export interface ToolCacheOptions {
  /** Share entries across replicas through this client (a single Redis, not a Cluster); without it entries live in this process. */
  redis?: Redis;
  /** Prepended to every Redis key; default `toolmesh:cache:`. */
  prefix?: string;
  /** Longest wait for Redis before an operation gives up (a miss, or a no-op); default 50 ms. */
  redisTimeoutMs?: number;
  /** Most in-process entries held at once, the least recently used going first; default 10 000. */
  maxEntries?: number;
  /** Values longer than this (in UTF-16 code units) are not stored; default 1 MiB. Bounds memory with `maxEntries`. */
  maxValueLength?: number;
  /**
   * Expires in-process entries and times the Redis timeout; default the system clock.
   * Redis entries expire by the Redis server's clock.
   */
  clock?: Clock;
  /** Called on every Redis failure with its cause, e.g. to log it; a throwing hook is ignored. */
  onError?: (error: unknown, operation: CacheOperation) => void;
}

/** Counters since the cache was created. */
export interface ToolCacheStats {
  hits: number;
  /** Gets that found nothing, including those that failed. */
  misses: number;
  /** Entries removed by {@link ToolCache.invalidateTags}. */
  invalidations: number;
  /** Redis operations that failed or timed out. */
  errors: number;
}

/**
 * Results of read tools per tenant, user, tool and arguments. The cache is an optimisation:
 * no method rejects or waits longer than the Redis timeout because of Redis. While Redis
 * fails, gets miss, sets do nothing and invalidations remove nothing (answering 0), so
 * entries written before then live until their TTL: keep `cache_ttl` short.
 *
 * A read that started before an invalidation and stores its result after it can store the
 * old result, which then also lives until its TTL; this is another reason for short TTLs.
 */
export interface ToolCache {
  /** The cached result, or undefined on a miss, an expired entry or a failure. */
  get(key: CacheKey): Promise<string | undefined>;
  /**
   * Stores a result for `ttlMs` milliseconds under the tags (see {@link cacheTags}). A TTL
   * below 1 ms (or not finite) and a value longer than `maxValueLength` store nothing.
   */
  set(key: CacheKey, value: string, ttlMs: number, tags: string[]): Promise<void>;
  /** Removes every entry stored with any of the tags, whatever tool stored it; answers how many. */
  invalidateTags(tags: string[]): Promise<number>;
  /** A snapshot of the counters. */
  stats(): ToolCacheStats;
  /** The configured backend. */
  backend(): 'memory' | 'redis';
}

/** Creates a tool result cache: in-process by default, or shared by all replicas on Redis. */
export function createToolCache(options: ToolCacheOptions = {}): ToolCache {
  const maxEntries = options.maxEntries ?? 10_000;
  const maxValueLength = options.maxValueLength ?? 1024 * 1024;
  const timeoutMs = options.redisTimeoutMs ?? 50;
  if (!(Number.isInteger(maxEntries) && maxEntries > 0))
    throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  if (!(timeoutMs > 0)) throw new RangeError(`redisTimeoutMs must be positive, got ${timeoutMs}`);

  const { redis } = options;
  const clock = options.clock ?? systemClock;
  const store: CacheStore = redis
    ? createRedisStore(redis, options.prefix ?? 'toolmesh:cache:')
    : createMemoryStore({ maxEntries, now: () => clock.now() });
  const counters: ToolCacheStats = { hits: 0, misses: 0, invalidations: 0, errors: 0 };

  const failed = (error: unknown, operation: CacheOperation) => {
    counters.errors++;
    try {
      options.onError?.(error, operation);
    } catch {
      // A failing hook must not turn an optimisation into an error.
    }
  };

  // The memory store cannot fail; Redis is bounded in time and its errors are contained.
  const guarded = async <T>(operation: CacheOperation, fallback: T, run: () => Promise<T>): Promise<T> => {
    if (!redis) return run();
    // Not connected: answer at once instead of queueing behind a reconnect
    // ('wait' is a lazyConnect client that connects on its first command).
    if (redis.status !== 'ready' && redis.status !== 'wait') {
      failed(new Error(`redis is ${redis.status}`), operation);
      return fallback;
    }
    let timer: ClockTimer | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = clock.setTimeout(
          () => reject(new Error(`redis took longer than ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      // The race subscribes to the command, so its late rejection is handled.
      return await Promise.race([run(), timeout]);
    } catch (error) {
      failed(error, operation);
      return fallback;
    } finally {
      timer?.cancel();
    }
  };

  return {
    async get(key) {
      const value = await guarded('get', undefined, () => store.get(storageKey(key)));
      if (value === undefined) counters.misses++;
      else counters.hits++;
      return value;
    },
    async set(key, value, ttlMs, tags) {
      // Rounding down: an entry may leave a little early, never late.
      const ttl = Math.floor(ttlMs);
      if (!(ttl >= 1 && Number.isFinite(ttl)) || value.length > maxValueLength) return;
      await guarded('set', undefined, () => store.set(storageKey(key), value, ttl, tags));
    },
    async invalidateTags(tags) {
      if (tags.length === 0) return 0;
      const removed = await guarded('invalidate', 0, () => store.invalidate(tags));
      counters.invalidations += removed;
      return removed;
    },
    stats: () => ({ ...counters }),
    backend: () => (redis ? 'redis' : 'memory'),
  };
}
