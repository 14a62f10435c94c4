import { Code, type HandlerContext } from '@connectrpc/connect';
import type { InvokeToolRequest } from '@toolmesh/proto';
import { delegationHeader, type MeshCredential, publicError, requireCredential } from '@toolmesh/rpc';
import type { Tool } from './define-tool.ts';

const refused = (why: string) => publicError(Code.Unauthenticated, `mesh credential ${why}`);

/**
 * The verified credential of an InvokeTool call, checked against the request it came with: a
 * credential is good for one tool, one call id and one idempotency key, so a tool service that
 * received it cannot replay it for another tool, call or write. A delegated credential (another
 * tool's call reading as the same user) is good only for a read tool and for sub-calls of the
 * call it was issued for (`<call id>:<anything>`).
 */
export function callCredential(ctx: HandlerContext, req: InvokeToolRequest, tool: Tool): MeshCredential {
  const credential = requireCredential(ctx);
  if (credential.tool !== req.toolName) throw refused('not issued for this tool');
  if (credential.onBehalfOf) {
    if (tool.metadata.sideEffect !== 'read') throw refused('of a delegation is good for reads only');
    if (!credential.callId || !req.toolCallId.startsWith(`${credential.callId}:`)) {
      throw refused('not issued for this call');
    }
    return credential;
  }
  if (credential.callId !== req.toolCallId) throw refused('not issued for this call');
  if ((credential.idempotencyKey ?? '') !== req.idempotencyKey)
    throw refused('not issued for this idempotency key');
  return credential;
}

// A JWT's payload, read without verifying: only to route a delegated credential to the tool it
// names. The service it is sent to verifies it.
function claimedTool(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      tool?: unknown;
    };
    return typeof payload.tool === 'string' ? payload.tool : undefined;
  } catch {
    return undefined;
  }
}

/** The delegated credentials a call brought, by the tool each is for. */
export function delegatedCredentials(ctx: HandlerContext): Map<string, string> {
  const byTool = new Map<string, string>();
  for (const token of (ctx.requestHeader.get(delegationHeader) ?? '').split(',')) {
    const trimmed = token.trim();
    const tool = trimmed && claimedTool(trimmed);
    if (tool) byTool.set(tool, trimmed);
  }
  return byTool;
}
