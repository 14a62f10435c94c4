import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { Cluster, Redis } from 'ioredis';
import { createMemoryBuckets } from './memory-buckets.ts';
import { assertValidTake, type RateDecision, type RateRule } from './rate-rule.ts';
import { createRedisBuckets } from './redis-buckets.ts';

/** What a Redis-backed limiter answers while Redis fails. */
export type RedisErrorPolicy = 'allow' | 'deny' | 'local';

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Share buckets across replicas through this client; without it buckets live in this process. */
  redis?: Redis | Cluster;
  /** Prepended to every Redis key (`${prefix}rl:${key}`); default `toolmesh:`. */
  prefix?: string;
  /**
   * While Redis errors, times out or is not connected: `local` (default) limits with
   * in-process buckets, so each replica enforces the rule on its own; `allow` lets
   * everything through; `deny` refuses everything.
   */
  onRedisError?: RedisErrorPolicy;
  /** Longest wait for Redis before the fallback answers; default 50 ms. */
  redisTimeoutMs?: number;
  /** Called on every fallback with its cause, e.g. to log or count it. */
  onFallback?: (error: unknown) => void;
  /** Most in-process buckets held at once; default 100 000. */
  maxKeys?: number;
  /**
   * Refills in-process buckets and times the Redis timeout; default the system clock.
   * Redis buckets refill by the Redis server's clock, which all replicas share.
   */
  clock?: Clock;
}

/** Token bucket rate limits per key. */
export interface RateLimiter {
  /**
   * Takes `cost` tokens (default 1) from the bucket of `key` if it holds them.
   * Never rejects because of Redis; rejects with a RangeError for an invalid rule
   * or a cost above the burst.
   */
  take(key: string, rule: RateRule, cost?: number): Promise<RateDecision>;
  /** The configured backend; fallbacks are counted by {@link RateLimiter.fallbacks}. */
  backend(): 'memory' | 'redis';
  /** Takes answered by the fallback because Redis failed, since creation. */
  fallbacks(): number;
}

/**
 * Creates a rate limiter: in-process buckets by default, or buckets shared by all
 * replicas in Redis. A take that times out may still reach Redis and spend tokens;
 * that errs on the strict side and only while Redis is slow.
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const clock = options.clock ?? systemClock;
  const local = createMemoryBuckets({ maxKeys: options.maxKeys ?? 100_000, now: () => clock.now() });
  const { redis } = options;
  if (!redis) {
    return {
      async take(key, rule, cost = 1) {
        assertValidTake(rule, cost);
        return local.take(key, rule, cost);
      },
      backend: () => 'memory',
      fallbacks: () => 0,
    };
  }

  const shared = createRedisBuckets(redis, options.prefix ?? 'toolmesh:');
  const policy = options.onRedisError ?? 'local';
  const timeoutMs = options.redisTimeoutMs ?? 50;
  let fallbackCount = 0;

  const fallback = (error: unknown, key: string, rule: RateRule, cost: number): RateDecision => {
    fallbackCount++;
    try {
      options.onFallback?.(error);
    } catch {
      // A failing hook must not turn a limit decision into an error.
    }
    if (policy === 'local') return local.take(key, rule, cost);
    if (policy === 'allow')
      return { allowed: true, retryAfterMs: 0, remaining: Math.floor(rule.burst - cost) };
    return {
      allowed: false,
      retryAfterMs: Math.ceil((Math.max(cost, 1) * 1000) / rule.ratePerSec),
      remaining: 0,
    };
  };

  return {
    async take(key, rule, cost = 1) {
      assertValidTake(rule, cost);
      // Not connected: answer at once instead of queueing behind a reconnect
      // ('wait' is a lazyConnect client that connects on its first command).
      if (redis.status !== 'ready' && redis.status !== 'wait') {
        return fallback(new Error(`redis is ${redis.status}`), key, rule, cost);
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
        return await Promise.race([shared.take(key, rule, cost), timeout]);
      } catch (error) {
        return fallback(error, key, rule, cost);
      } finally {
        timer?.cancel();
      }
    },
    backend: () => 'redis',
    fallbacks: () => fallbackCount,
  };
}
