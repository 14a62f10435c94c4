import type { RateLimiter, RateRule } from '@toolmesh/limits';
import { ChatService } from '@toolmesh/proto';
import { Code, errorFor, holdForCall, type Interceptor, publicError } from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';
import { defaultPublicRule, rateLimitUser } from './rate-limit-key.ts';

/** Options of {@link createRateLimitInterceptor} beyond the chat rule. */
export interface RateLimitOptions {
  /** Calls per user to each other public service (tasks, audit, registry, assistants, usage); default 20/s, burst 40. */
  publicRule?: RateRule;
  /** Server streams (ChatStream, WatchTask) one user may hold open on this replica; default 8. */
  maxOpenStreamsPerUser?: number;
}

/**
 * Per-(tenant, user) limits on every public RPC (runs after authentication; health and
 * reflection carry no principal and pass). Chat, ChatStream and Confirm share the chat
 * rule; each other public service has a bucket of its own under the public rule. Over a
 * rate the call ends at once with RESOURCE_EXHAUSTED, reason RATE_LIMITED and a RetryInfo.
 *
 * Server streams also hold a slot for as long as they are open, at most
 * `maxOpenStreamsPerUser` per user: a long WatchTask costs one token but keeps a
 * connection to the orchestrator busy, so the rate alone does not bound them. The count
 * is per replica (open streams are a replica's resource, not a budget to share).
 */
export function createRateLimitInterceptor(
  limiter: RateLimiter,
  chatRule: RateRule,
  options: RateLimitOptions = {},
): Interceptor {
  const publicRule = options.publicRule ?? defaultPublicRule;
  const maxStreams = options.maxOpenStreamsPerUser ?? 8;
  const openStreams = new Map<string, number>();
  const release = (key: string) => {
    const left = (openStreams.get(key) ?? 1) - 1;
    if (left > 0) openStreams.set(key, left);
    else openStreams.delete(key);
  };
  return (next) => async (req) => {
    const principal = req.contextValues.get(principalKey);
    if (!principal) return next(req);
    const user = rateLimitUser(principal);
    const isChat = req.service.typeName === ChatService.typeName;
    const decision = await limiter.take(
      isChat ? `chat:${user}` : `rpc:${req.service.typeName}:${user}`,
      isChat ? chatRule : publicRule,
    );
    if (!decision.allowed) {
      throw errorFor('RATE_LIMITED', { retryAfterMs: decision.retryAfterMs, metadata: { scope: 'user' } });
    }
    if (req.method.methodKind !== 'server_streaming') return next(req);

    const open = openStreams.get(user) ?? 0;
    if (open >= maxStreams) {
      throw publicError(
        Code.ResourceExhausted,
        `too many open streams for this user (at most ${maxStreams}); close one and retry`,
      );
    }
    openStreams.set(user, open + 1);
    return holdForCall(
      req,
      () => next(req),
      () => release(user),
    );
  };
}
