import { randomUUID } from 'node:crypto';
import type { Principal } from '@toolmesh/proto';
import { type CredentialIssuer, type HandlerContext, meshAudience, requestIdKey } from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';

/** The call options of a forwarded call, without its deadline. */
export interface ForwardOptions {
  headers: Record<string, string>;
  signal: AbortSignal;
}

/** Call options that make the orchestrator see the verified caller of `ctx`. */
export type ForwardAsCaller = (ctx: HandlerContext) => Promise<ForwardOptions>;

/** Call options that make the orchestrator see `principal`, for a request the gateway already verified. */
export type SignAsCaller = (
  principal: Principal,
  requestId: string,
  signal: AbortSignal,
) => Promise<ForwardOptions>;

/**
 * Signs for the orchestrator as a caller verified here, outside an RPC handler (the MCP
 * endpoint): the same credential {@link createForwardAsCaller} makes.
 */
export function createSignAsCaller(issuer: CredentialIssuer): SignAsCaller {
  return async (principal, requestId, signal) => {
    const token = await issuer.issue({ principal, requestId, audience: meshAudience.orchestrator });
    return { headers: { authorization: `Bearer ${token}` }, signal };
  };
}

/**
 * The gateway's side of zero trust: every forwarded call carries a credential the gateway signs
 * for the orchestrator, naming the caller it verified and the request id it chose. Nothing of
 * the caller's own metadata is passed on; the message itself travels unchanged.
 */
export function createForwardAsCaller(issuer: CredentialIssuer): ForwardAsCaller {
  const sign = createSignAsCaller(issuer);
  return async (ctx) => {
    const principal = ctx.values.get(principalKey) as Principal;
    // The server's tracing interceptor took (or made) the request id; the response echoes it.
    const requestId = ctx.values.get(requestIdKey) || randomUUID();
    return sign(principal, requestId, ctx.signal);
  };
}
