export {
  type AdaptiveLimit,
  type AdaptiveLimitOptions,
  type AdmissionOutcome,
  createAdaptiveLimit,
} from './adaptive-limit.ts';
export {
  type AdmissionLimiter,
  type AdmissionLimiterOptions,
  type AdmissionRelease,
  createAdmissionLimiter,
} from './admission-limiter.ts';
export {
  type ConcurrencyLimiter,
  type ConcurrencyLimiterOptions,
  createConcurrencyLimiter,
  type Release,
} from './concurrency-limiter.ts';
export { connectRedis } from './connect-redis.ts';
export {
  createKeyedConcurrencyLimiter,
  type KeyedConcurrencyLimiter,
  type KeyedConcurrencyLimiterOptions,
} from './keyed-concurrency-limiter.ts';
export { LimitExceededError, type LimitExceededReason } from './limit-exceeded-error.ts';
export {
  createRateLimiter,
  type RateLimiter,
  type RateLimiterOptions,
  type RedisErrorPolicy,
} from './rate-limiter.ts';
export type { RateDecision, RateRule } from './rate-rule.ts';
