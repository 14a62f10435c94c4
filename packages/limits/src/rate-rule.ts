/** A token bucket: `burst` tokens at most, refilled at `ratePerSec`. */
export interface RateRule {
  ratePerSec: number;
  burst: number;
}

/** The answer to one take. */
export interface RateDecision {
  allowed: boolean;
  /** When a retry of the same cost can succeed; 0 when allowed. */
  retryAfterMs: number;
  /** Whole tokens left in the bucket after this take. */
  remaining: number;
}

// Refill arithmetic in floating point can land a hair below a whole token
// (0.1 + 0.2 style); a tolerance keeps exact refills from being refused.
export const tokenEpsilon = 1e-9;

/**
 * Rejects rules and costs a bucket cannot honour. A cost above the burst could
 * never be allowed, so it is a configuration error rather than a denial.
 */
export function assertValidTake(rule: RateRule, cost: number): void {
  if (!(Number.isFinite(rule.ratePerSec) && rule.ratePerSec > 0)) {
    throw new RangeError(`ratePerSec must be a positive number, got ${rule.ratePerSec}`);
  }
  if (!(Number.isFinite(rule.burst) && rule.burst > 0)) {
    throw new RangeError(`burst must be a positive number, got ${rule.burst}`);
  }
  if (!(Number.isFinite(cost) && cost >= 0 && cost <= rule.burst)) {
    throw new RangeError(`cost must be between 0 and burst (${rule.burst}), got ${cost}`);
  }
}
