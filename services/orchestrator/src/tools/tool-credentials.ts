import type { Principal } from '@toolmesh/proto';
import {
  type CredentialIssuer,
  credentialHeaders,
  delegationHeader,
  meshAudience,
  registryPrincipal,
} from '@toolmesh/rpc';

/** The identity of one tool call, which its credential is bound to. */
export interface ToolCallIdentity {
  principal: Principal;
  requestId: string;
  toolName: string;
  toolCallId: string;
  idempotencyKey: string;
  /** Tools the tool calls as the same user (its `delegated_tools`); only reads get a credential. */
  delegatedTools?: readonly string[];
}

/** Signs the metadata of the orchestrator's calls to tool services. */
export interface ToolCredentials {
  /** `authorization` for exactly this call, and `x-toolmesh-delegation` for the reads it may make. */
  forCall(call: ToolCallIdentity): Promise<Record<string, string>>;
  /** `authorization` to read one task of `toolName` as `principal`. */
  forTask(task: {
    principal: Principal;
    requestId: string;
    toolName: string;
    taskId: string;
  }): Promise<Record<string, string>>;
  /** `authorization` of the registry's own ListTools calls. */
  forRegistry(): Promise<Record<string, string>>;
}

/**
 * The orchestrator's side of zero trust toward tool services: each InvokeTool carries a
 * credential for that tool, call and idempotency key, so the service that receives it can replay
 * it nowhere; a tool that reads another as the same user gets a delegated credential per read
 * tool, good only for sub-calls of this call.
 */
export function createToolCredentials(
  issuer: CredentialIssuer,
  options: {
    /** Whether the registry knows `name` as a read tool: a write is never delegated. */
    isReadTool: (name: string) => boolean;
  },
): ToolCredentials {
  return {
    async forCall(call) {
      const base = { principal: call.principal, requestId: call.requestId, callId: call.toolCallId };
      const delegated = (call.delegatedTools ?? []).filter((tool) => options.isReadTool(tool));
      const [token, ...delegations] = await Promise.all([
        issuer.issue({
          ...base,
          audience: meshAudience.tool(call.toolName),
          tool: call.toolName,
          idempotencyKey: call.idempotencyKey,
        }),
        ...delegated.map((tool) =>
          issuer.issue({ ...base, audience: meshAudience.tool(tool), tool, onBehalfOf: call.toolName }),
        ),
      ]);
      const headers = credentialHeaders(token ?? '');
      return delegations.length ? { ...headers, [delegationHeader]: delegations.join(',') } : headers;
    },
    async forTask(task) {
      return credentialHeaders(
        await issuer.issue({
          principal: task.principal,
          requestId: task.requestId,
          audience: meshAudience.tool(task.toolName),
          taskId: task.taskId,
        }),
      );
    },
    async forRegistry() {
      return credentialHeaders(
        await issuer.issue({ principal: registryPrincipal, requestId: '', audience: meshAudience.registry }),
      );
    },
  };
}
