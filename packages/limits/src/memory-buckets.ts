import { type RateDecision, type RateRule, tokenEpsilon } from './rate-rule.ts';

/** Options of {@link createMemoryBuckets}. */
export interface MemoryBucketsOptions {
  /** Most buckets held at once; the least recently used one goes first. */
  maxKeys: number;
  /** Current time in milliseconds; a step backwards refills nothing. */
  now: () => number;
}

/** In-process token buckets; each take is synchronous. */
export interface MemoryBuckets {
  take(key: string, rule: RateRule, cost: number): RateDecision;
  /** Buckets currently held. */
  size(): number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  /** When the bucket is full again: from then on it equals a missing one. */
  fullAt: number;
}

/**
 * Token buckets in a Map with lazy refill, so an idle key costs nothing but its entry.
 * The Map's insertion order doubles as the LRU order (a take moves its key to the end),
 * which keeps both the eviction at the cap and the pruning of full buckets O(1).
 */
export function createMemoryBuckets(options: MemoryBucketsOptions): MemoryBuckets {
  const { maxKeys, now } = options;
  const buckets = new Map<string, Bucket>();

  // A full bucket behaves exactly like an absent one, so dropping it changes no answer;
  // looking at the two oldest entries per take lets idle keys drain away without a timer.
  const pruneFull = (at: number) => {
    for (let i = 0; i < 2; i++) {
      const oldest = buckets.entries().next();
      if (oldest.done || oldest.value[1].fullAt > at) return;
      buckets.delete(oldest.value[0]);
    }
  };

  return {
    take(key, rule, cost) {
      const at = now();
      pruneFull(at);
      const { ratePerSec, burst } = rule;
      const bucket = buckets.get(key);
      let tokens = burst;
      if (bucket) {
        const elapsedMs = Math.max(0, at - bucket.updatedAt);
        tokens = Math.min(burst, bucket.tokens + (elapsedMs * ratePerSec) / 1000);
        buckets.delete(key);
      } else if (buckets.size >= maxKeys) {
        // Forgetting a bucket that is not full yet hands its key a fresh burst: under
        // memory pressure erring on the permissive side beats growing without bound.
        const oldest = buckets.keys().next();
        if (!oldest.done) buckets.delete(oldest.value);
      }
      const allowed = tokens + tokenEpsilon >= cost;
      if (allowed) tokens = Math.max(0, tokens - cost);
      const retryAfterMs = allowed ? 0 : Math.ceil(((cost - tokens) * 1000) / ratePerSec);
      buckets.set(key, { tokens, updatedAt: at, fullAt: at + ((burst - tokens) * 1000) / ratePerSec });
      return { allowed, retryAfterMs, remaining: Math.floor(tokens + tokenEpsilon) };
    },
    size: () => buckets.size,
  };
}
