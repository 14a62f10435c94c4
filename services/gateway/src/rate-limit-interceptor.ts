import type { RateLimiter, RateRule } from '@toolmesh/limits';
import { ChatService } from '@toolmesh/proto';
import { Code, type Interceptor, publicError } from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';

/**
 * Bounds how fast one user may start chat turns (runs after authentication). Over
 * the limit the call ends at once with RESOURCE_EXHAUSTED and says when to retry.
 */
export function createRateLimitInterceptor(limiter: RateLimiter, rule: RateRule): Interceptor {
  return (next) => async (req) => {
    const principal = req.contextValues.get(principalKey);
    if (req.service.typeName === ChatService.typeName && principal) {
      const decision = await limiter.take(`chat:${principal.tenantId}:${principal.userId}`, rule);
      if (!decision.allowed) {
        const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
        throw publicError(Code.ResourceExhausted, `rate limit reached for this user; retry in ${seconds} s`);
      }
    }
    return next(req);
  };
}
