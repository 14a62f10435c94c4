import type { Clock } from '@toolmesh/clock';
import { createRateLimiter, type RateLimiter, type RateRule } from '@toolmesh/limits';
import type { Cluster, Redis } from 'ioredis';

/** Options of {@link createReplicaShareRateLimiter}. */
export interface ReplicaShareRateLimiterOptions {
  /** Buckets shared by every replica; without it (or while it fails) each replica limits its share. */
  redis?: Redis | Cluster;
  /** Prepended to every Redis key. */
  prefix: string;
  /** How many replicas share the limits now (e.g. ReplicaRegistry.liveCount); default 1. */
  replicas?: () => number;
  /** Longest wait for Redis before the share answers; default 50 ms. */
  redisTimeoutMs?: number;
  /** Called on every fallback with its cause. */
  onFallback?: (error: unknown) => void;
  clock?: Clock;
}

/** A rule cut to one replica's share of `replicas`: rate and burst divided, a burst of one at least. */
export function shareOf(rule: RateRule, replicas: number): RateRule {
  const n = Math.max(1, Math.floor(replicas));
  return { ratePerSec: rule.ratePerSec / n, burst: Math.max(1, rule.burst / n) };
}

/**
 * A rate limiter whose rule holds for the whole mesh, not per replica: in Redis the
 * replicas share one bucket; in process — no Redis, or while it fails — each replica
 * limits with its share of the rule (rate and burst divided by the replicas alive), so
 * N replicas do not let N times the rule through. The share is exact only while the
 * load is spread evenly; Redis is what makes a limit exact.
 */
export function createReplicaShareRateLimiter(options: ReplicaShareRateLimiterOptions): RateLimiter {
  const replicas = options.replicas ?? (() => 1);
  const local = createRateLimiter({ clock: options.clock });
  const { redis } = options;
  if (!redis) {
    return {
      take: (key, rule, cost) => local.take(key, shareOf(rule, replicas()), cost),
      backend: () => 'memory',
      fallbacks: () => 0,
    };
  }
  // While Redis fails the shared limiter lets the take through and the share decides.
  const shared = createRateLimiter({
    redis,
    prefix: options.prefix,
    onRedisError: 'allow',
    redisTimeoutMs: options.redisTimeoutMs,
    onFallback: options.onFallback,
    clock: options.clock,
  });
  return {
    async take(key, rule, cost) {
      const before = shared.fallbacks();
      const decision = await shared.take(key, rule, cost);
      // A concurrent take's fallback may be counted here too: then this take also pays
      // its share locally, strict only while Redis fails.
      if (shared.fallbacks() === before) return decision;
      return local.take(key, shareOf(rule, replicas()), cost);
    },
    backend: () => 'redis',
    fallbacks: () => shared.fallbacks(),
  };
}
