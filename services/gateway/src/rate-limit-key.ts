import type { RateRule } from '@toolmesh/limits';
import type { Principal } from '@toolmesh/proto';

/** The rule of every public call but the chat turns, unless configured: 20/s, burst 40 per user. */
export const defaultPublicRule: RateRule = { ratePerSec: 20, burst: 40 };

/**
 * Whose budget a call spends: (tenant, user), escaped, so that tenant "a:b" with user "c" and
 * tenant "a" with user "b:c" never share a bucket. The RPCs and /mcp key alike.
 */
export function rateLimitUser(principal: Principal): string {
  return `${encodeURIComponent(principal.tenantId)}:${encodeURIComponent(principal.userId)}`;
}
