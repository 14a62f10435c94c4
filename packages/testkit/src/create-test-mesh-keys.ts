import type { CallOptions } from '@connectrpc/connect';
import type { Clock } from '@toolmesh/clock';
import type { Principal } from '@toolmesh/proto';
import {
  type CredentialIssuer,
  createCredentialIssuer,
  credentialHeaders,
  delegationHeader,
  generateMeshKeys,
  importSigningKey,
  jwksFromKeys,
  type KeyResolver,
  meshAudience,
  meshIssuer,
  registryPrincipal,
} from '@toolmesh/rpc';

type PrincipalInit = Pick<Principal, 'userId' | 'tenantId' | 'permissions'>;

/** The fields of an InvokeTool call a credential is bound to. */
export interface ToolCallScope {
  toolName: string;
  toolCallId?: string;
  idempotencyKey?: string;
}

/** Mesh keys made for one test, with the issuers a test plays and call options it signs. */
export interface TestMeshKeys {
  /** The public keys, for servers under test (createToolServer's meshKeys …). */
  keys: KeyResolver;
  gateway: CredentialIssuer;
  orchestrator: CredentialIssuer;
  /** Call options of an InvokeTool call as `principal`, signed as the orchestrator would. */
  toolCall(principal: PrincipalInit, scope: ToolCallScope, delegations?: string[]): Promise<CallOptions>;
  /** Call options of a TaskService call for `taskId` of `toolName`, as the orchestrator would sign them. */
  taskCall(principal: PrincipalInit, toolName: string, taskId: string): Promise<CallOptions>;
  /** Call options of the orchestrator's ListTools calls. */
  registryCall(): Promise<CallOptions>;
  /** A delegated credential: `toolName` may be read as `principal` by sub-calls of `callId`. */
  delegation(principal: PrincipalInit, toolName: string, callId: string, onBehalfOf: string): Promise<string>;
}

/** Generates a gateway and an orchestrator key for a test; nothing touches the disk. */
export async function createTestMeshKeys(options: { clock?: Clock } = {}): Promise<TestMeshKeys> {
  const generated = await generateMeshKeys([meshIssuer.gateway, meshIssuer.orchestrator]);
  const issuer = (name: string) => {
    const key = importSigningKey(generated.privateKeys[name] ?? {});
    return createCredentialIssuer({ issuer: name, signingKey: () => key, clock: options.clock });
  };
  const orchestrator = issuer(meshIssuer.orchestrator);
  return {
    keys: jwksFromKeys(generated.jwks),
    gateway: issuer(meshIssuer.gateway),
    orchestrator,
    async toolCall(principal, scope, delegations = []) {
      const token = await orchestrator.issue({
        principal,
        requestId: 'test-request',
        audience: meshAudience.tool(scope.toolName),
        tool: scope.toolName,
        callId: scope.toolCallId ?? '',
        idempotencyKey: scope.idempotencyKey ?? '',
      });
      const headers: Record<string, string> = credentialHeaders(token);
      if (delegations.length) headers[delegationHeader] = delegations.join(',');
      return { headers };
    },
    async taskCall(principal, toolName, taskId) {
      const token = await orchestrator.issue({
        principal,
        requestId: 'test-request',
        audience: meshAudience.tool(toolName),
        taskId,
      });
      return { headers: credentialHeaders(token) };
    },
    async registryCall() {
      const token = await orchestrator.issue({
        principal: registryPrincipal,
        requestId: 'test-request',
        audience: meshAudience.registry,
      });
      return { headers: credentialHeaders(token) };
    },
    delegation(principal, toolName, callId, onBehalfOf) {
      return orchestrator.issue({
        principal,
        requestId: 'test-request',
        audience: meshAudience.tool(toolName),
        tool: toolName,
        callId,
        onBehalfOf,
      });
    },
  };
}
