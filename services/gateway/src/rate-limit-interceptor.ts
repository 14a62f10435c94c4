import type { RateLimiter, RateRule } from '@toolmesh/limits';
import { ChatService } from '@toolmesh/proto';
import { errorFor, type Interceptor } from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';

/**
 * Bounds how fast one user may start chat turns (runs after authentication). Over
 * the limit the call ends at once with RESOURCE_EXHAUSTED, reason RATE_LIMITED
 * and a RetryInfo saying when to retry.
 */
export function createRateLimitInterceptor(limiter: RateLimiter, rule: RateRule): Interceptor {
  return (next) => async (req) => {
    const principal = req.contextValues.get(principalKey);
    if (req.service.typeName === ChatService.typeName && principal) {
      const decision = await limiter.take(`chat:${principal.tenantId}:${principal.userId}`, rule);
      if (!decision.allowed) {
        throw errorFor('RATE_LIMITED', { retryAfterMs: decision.retryAfterMs, metadata: { scope: 'user' } });
      }
    }
    return next(req);
  };
}
