import type { Client } from '@connectrpc/connect';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  type CallToolResponse,
  type RegistryService,
  SideEffect,
  type ToolCallService,
  ToolErrorCode,
} from '@toolmesh/proto';
import { ConnectError, relayError } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import type { ForwardOptions } from '../forward-as-caller.ts';

/** Options of {@link createMcpServer}: one verified caller's MCP session (one HTTP request). */
export interface McpServerOptions {
  registry: Client<typeof RegistryService>;
  toolCalls: Client<typeof ToolCallService>;
  /** Call options that make the orchestrator see this request's verified caller. */
  asCaller: () => Promise<ForwardOptions>;
  logger: Logger;
  /** Deadline of a tools/call; default 60 s. */
  callTimeoutMs?: number;
}

/** The server's name and version in the MCP handshake. */
export const mcpServerInfo = { name: 'toolmesh', version: '0.1.0' };

// An answer of the orchestrator the caller may read (its code and sanitized message);
// anything else is logged and named only as a failure.
function publicMessage(error: unknown, signal: AbortSignal, logger: Logger): string {
  const relayed = relayError(error, { dependency: 'orchestrator', signal });
  if (relayed !== error && relayed instanceof ConnectError) return relayed.rawMessage;
  logger.warn({ err: error }, 'MCP call to the orchestrator failed');
  return 'the call failed; try again later';
}

function inputSchemaOf(json: string): Tool['inputSchema'] {
  try {
    const parsed = JSON.parse(json) as Tool['inputSchema'];
    if (parsed && typeof parsed === 'object' && parsed.type === 'object') return parsed;
  } catch {
    // A tool service without a usable schema: offered as taking any object.
  }
  return { type: 'object' };
}

/** A CallToolResponse as MCP's tools/call result. */
export function toCallToolResult(res: CallToolResponse): CallToolResult {
  const { outcome } = res;
  if (outcome.case === 'resultJson') {
    let structured: unknown;
    try {
      structured = JSON.parse(outcome.value);
    } catch {
      structured = undefined;
    }
    const isObject = structured !== null && typeof structured === 'object' && !Array.isArray(structured);
    return {
      content: [{ type: 'text', text: outcome.value }],
      ...(isObject ? { structuredContent: structured as Record<string, unknown> } : {}),
    };
  }
  if (outcome.case === 'pendingAction') {
    const a = outcome.value;
    const expiresAt = a.expiresAt ? new Date(Number(a.expiresAt.seconds) * 1000).toISOString() : '';
    const text = [
      `Nothing was written: ${a.toolName} changes data and needs your approval.`,
      `Pending action ${a.actionId} in conversation ${res.conversationId}: ${a.summary}.`,
      `It expires at ${expiresAt}.`,
      `To run it, confirm it: \`toolmesh confirm ${res.conversationId} ${a.actionId}\`` +
        ` (or ChatService.Confirm with conversation_id, action_id and approve: true); add --decline to refuse it.`,
    ].join('\n');
    return {
      content: [{ type: 'text', text }],
      structuredContent: {
        status: 'pending_approval',
        action_id: a.actionId,
        conversation_id: res.conversationId,
        tool_name: a.toolName,
        summary: a.summary,
        expires_at: expiresAt,
      },
    };
  }
  if (outcome.case === 'error') {
    const errorCode = outcome.value.code;
    const code = Object.entries(ToolErrorCode).find(([, v]) => v === errorCode)?.[0] ?? 'INTERNAL';
    return { isError: true, content: [{ type: 'text', text: `${code}: ${outcome.value.message}` }] };
  }
  return { isError: true, content: [{ type: 'text', text: 'INTERNAL: the call had no outcome' }] };
}

/**
 * toolmesh's tools over MCP for one verified caller: tools/list is the registry's tools
 * the caller is permitted (reads marked readOnlyHint, writes destructiveHint), and
 * tools/call is ToolCallService.CallTool as the caller, so a call passes the same checks
 * as a model's, and a write only becomes a pending action to confirm.
 */
export function createMcpServer(options: McpServerOptions): Server {
  const { logger } = options;
  const server = new Server(mcpServerInfo, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => {
    let tools: Tool[];
    try {
      const res = await options.registry.listRegisteredTools({}, await options.asCaller());
      tools = res.tools
        .filter((t) => t.permitted && t.definition)
        .map((t) => {
          const d = t.definition;
          const write = d?.metadata?.sideEffect === SideEffect.WRITE;
          return {
            name: d?.name ?? '',
            description: d?.description ?? '',
            inputSchema: inputSchemaOf(d?.inputSchemaJson ?? ''),
            annotations: { readOnlyHint: !write, destructiveHint: write },
          };
        });
    } catch (error) {
      throw new McpError(ErrorCode.InternalError, publicMessage(error, extra.signal, logger));
    }
    return { tools };
  });
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    try {
      const res = await options.toolCalls.callTool(
        { toolName: req.params.name, argumentsJson: JSON.stringify(req.params.arguments ?? {}) },
        { ...(await options.asCaller()), timeoutMs: options.callTimeoutMs ?? 60_000 },
      );
      return toCallToolResult(res);
    } catch (error) {
      return { isError: true, content: [{ type: 'text', text: publicMessage(error, extra.signal, logger) }] };
    }
  });
  return server;
}
