import { Code, createContextKey, type HandlerContext } from '@connectrpc/connect';
import type { Principal } from '@toolmesh/proto';
import { publicError } from '../error-details.ts';

/** What a credential is good for, beyond its audience: one tool call, one task, or a delegated read. */
export interface CredentialScope {
  /** A tool call's credential: the tool, the call and its idempotency key. */
  tool?: string;
  callId?: string;
  idempotencyKey?: string;
  /** A task read's credential: the task. */
  taskId?: string;
  /** A delegated credential: the tool whose call may make this call as the same user. */
  onBehalfOf?: string;
}

/** What an issuer signs into a credential (the issuer and times are its own). */
export interface CredentialClaims extends CredentialScope {
  principal: Pick<Principal, 'userId' | 'tenantId' | 'permissions'>;
  /** Correlates logs and audit records across hops. */
  requestId: string;
  /** What it is for, e.g. {@link meshAudience}.orchestrator or a tool's audience. */
  audience: string;
}

/**
 * The verified credential of the call being served: who it runs for, and what it was
 * issued for. The mesh interceptor puts it in the handler context before any handler runs.
 */
export interface MeshCredential extends CredentialClaims {
  /** The end user: user, tenant and permissions, as the gateway verified them. */
  principal: Principal;
  /** Who signed it, e.g. {@link meshIssuer}.gateway. */
  issuer: string;
  /** When it stops being accepted, in ms since the epoch. */
  expiresAt: number;
  /** The signed token itself. */
  token: string;
}

/** The services that sign mesh credentials; a verifier names the ones it accepts. */
export const meshIssuer = {
  /** Signs the credentials of calls the gateway makes for a verified caller. */
  gateway: 'toolmesh-gateway',
  /** Signs tool-call, task and delegated credentials. */
  orchestrator: 'toolmesh-orchestrator',
} as const;

/** Audiences of mesh credentials: a credential is good for one of them only. */
export const meshAudience = {
  orchestrator: 'toolmesh:orchestrator',
  /** Calls of one tool (InvokeTool) and reads of its tasks (TaskService). */
  tool: (toolName: string) => `toolmesh:tool:${toolName}`,
  /** The orchestrator's own ListTools calls: no end user, no tool call, so nothing else accepts it. */
  registry: 'toolmesh:registry',
} as const;

/** The principal of the orchestrator's own calls (ListTools): no user, no tenant data, no permission. */
export const registryPrincipal = { userId: 'system:orchestrator', tenantId: 'system', permissions: [] };

/** Metadata key of the credential: `authorization: Bearer <jwt>`, as standard JWT middleware expects. */
export const credentialHeader = 'authorization';

/**
 * Metadata key of delegated credentials a tool call receives for the tools it calls as the
 * same user (one value per tool, comma separated when several).
 */
export const delegationHeader = 'x-toolmesh-delegation';

/** The metadata that carries `token`. */
export function credentialHeaders(token: string): Record<string, string> {
  return { [credentialHeader]: `Bearer ${token}` };
}

/** Where the verified credential travels from the interceptor to the handlers. */
export const meshCredentialKey = createContextKey<MeshCredential | undefined>(undefined, {
  description: 'mesh credential',
});

/** The call's verified credential; UNAUTHENTICATED when there is none (a handler behind no interceptor). */
export function requireCredential(ctx: Pick<HandlerContext, 'values'>): MeshCredential {
  const credential = ctx.values.get(meshCredentialKey);
  if (!credential) throw publicError(Code.Unauthenticated, 'no verified mesh credential');
  return credential;
}
