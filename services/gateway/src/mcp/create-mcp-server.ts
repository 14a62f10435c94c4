import type { Client } from '@connectrpc/connect';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type RequestId,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import {
  type CallToolResponse,
  type DecideToolCallResponse,
  type PendingAction,
  type RegistryService,
  SideEffect,
  type ToolCallService,
  type ToolError,
  ToolErrorCode,
} from '@toolmesh/proto';
import { ConnectError, relayError } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import type { ForwardOptions } from '../forward-as-caller.ts';

/** Options of {@link createMcpServer}: one verified caller's MCP session (one HTTP request, or a stateful session). */
export interface McpServerOptions {
  registry: Client<typeof RegistryService>;
  toolCalls: Client<typeof ToolCallService>;
  /** Call options that make the orchestrator see the verified caller, cancelled with `signal`. */
  asCaller: (signal: AbortSignal) => Promise<ForwardOptions>;
  logger: Logger;
  /** Deadline of a tools/call; default 60 s. */
  callTimeoutMs?: number;
  /** Longest wait for the user's answer to an approval asked in the client; default 10 minutes. */
  approvalWaitMs?: number;
  /** Hears how each approval asked in the client was answered (metrics). */
  onElicitation?: (answer: 'approved' | 'declined' | 'cancelled' | 'unanswered') => void;
}

/** The `_meta` key a tools/call may carry an idempotency key under (MCP has none of its own). */
export const idempotencyMetaKey = 'io.toolmesh/idempotency-key';

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

const expiryOf = (a: PendingAction) =>
  a.expiresAt ? new Date(Number(a.expiresAt.seconds) * 1000).toISOString() : '';

/** A DecideToolCallResponse (the user's answer to an approval asked in the client) as a tools/call result. */
export function toDecidedResult(res: DecideToolCallResponse, action: PendingAction): CallToolResult {
  if (res.outcome.case === 'declined') {
    return {
      content: [{ type: 'text', text: `Declined: ${action.summary} was not run; nothing was written.` }],
      structuredContent: { status: 'declined', action_id: action.actionId },
    };
  }
  if (res.outcome.case === 'resultJson') return jsonResult(res.outcome.value);
  if (res.outcome.case === 'error') return errorResult(res.outcome.value);
  return { isError: true, content: [{ type: 'text', text: 'INTERNAL: the decision had no outcome' }] };
}

// A tool's JSON result: as text, and as structured content when it is an object.
function jsonResult(json: string): CallToolResult {
  let structured: unknown;
  try {
    structured = JSON.parse(json);
  } catch {
    structured = undefined;
  }
  const isObject = structured !== null && typeof structured === 'object' && !Array.isArray(structured);
  return {
    content: [{ type: 'text', text: json }],
    ...(isObject ? { structuredContent: structured as Record<string, unknown> } : {}),
  };
}

function errorResult(error: ToolError): CallToolResult {
  const code = Object.entries(ToolErrorCode).find(([, v]) => v === error.code)?.[0] ?? 'INTERNAL';
  return { isError: true, content: [{ type: 'text', text: `${code}: ${error.message}` }] };
}

/** A CallToolResponse as MCP's tools/call result. */
export function toCallToolResult(res: CallToolResponse): CallToolResult {
  const { outcome } = res;
  if (outcome.case === 'resultJson') return jsonResult(outcome.value);
  if (outcome.case === 'pendingAction') {
    const a = outcome.value;
    const expiresAt = expiryOf(a);
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
  if (outcome.case === 'error') return errorResult(outcome.value);
  return { isError: true, content: [{ type: 'text', text: 'INTERNAL: the call had no outcome' }] };
}

// The form a client shows its user for a held write: one yes/no, the summary in the message.
function approvalRequest(a: PendingAction) {
  return {
    mode: 'form' as const,
    message:
      `Approve this write? ${a.summary}\n` +
      `Nothing has been written yet; the approval expires at ${expiryOf(a)}.`,
    requestedSchema: {
      type: 'object' as const,
      properties: {
        approve: {
          type: 'boolean' as const,
          title: 'Approve',
          description: `Run ${a.toolName} with exactly these arguments`,
        },
      },
      required: ['approve'],
    },
  };
}

/**
 * toolmesh's tools over MCP for one verified caller: tools/list is the registry's tools
 * the caller is permitted (reads marked readOnlyHint, writes destructiveHint), and
 * tools/call is ToolCallService.CallTool as the caller, so a call passes the same checks
 * as a model's, and a write only becomes a pending action. A client that declared
 * elicitation is asked there and then (the user approves or declines, decided through
 * DecideToolCall with its exactly-once rules); any other client gets the pending action
 * to confirm through ChatService.Confirm or the CLI. A tools/call may carry an
 * idempotency key in `_meta["io.toolmesh/idempotency-key"]`.
 */
export function createMcpServer(options: McpServerOptions): Server {
  const { logger } = options;
  const server = new Server(mcpServerInfo, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async (_req, extra) => {
    let tools: Tool[];
    try {
      const res = await options.registry.listRegisteredTools({}, await options.asCaller(extra.signal));
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
  // Asks the user in the client; answers the decided result, or undefined to leave the action pending.
  async function askApproval(
    res: CallToolResponse,
    a: PendingAction,
    { signal, requestId }: { signal: AbortSignal; requestId: RequestId },
  ) {
    const untilExpiry = a.expiresAt ? Number(a.expiresAt.seconds) * 1000 - Date.now() : 0;
    const timeout = Math.max(1_000, Math.min(options.approvalWaitMs ?? 600_000, untilExpiry));
    let approve: boolean;
    try {
      // On the tools/call's own response stream, where the client is listening for it.
      const answer = await server.elicitInput(approvalRequest(a), {
        signal,
        timeout,
        relatedRequestId: requestId,
      });
      if (answer.action === 'cancel') {
        options.onElicitation?.('cancelled');
        return undefined;
      }
      approve = answer.action === 'accept' && answer.content?.approve === true;
    } catch (error) {
      // No answer in time, or an answer that does not fit the form: the action stays pending.
      logger.info({ err: error }, 'MCP approval not answered; the action stays pending');
      options.onElicitation?.('unanswered');
      return undefined;
    }
    options.onElicitation?.(approve ? 'approved' : 'declined');
    const decided = await options.toolCalls.decideToolCall(
      { conversationId: res.conversationId, actionId: a.actionId, approve },
      { ...(await options.asCaller(signal)), timeoutMs: options.callTimeoutMs ?? 60_000 },
    );
    return toDecidedResult(decided, a);
  }

  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    try {
      const key = req.params._meta?.[idempotencyMetaKey];
      const res = await options.toolCalls.callTool(
        {
          toolName: req.params.name,
          argumentsJson: JSON.stringify(req.params.arguments ?? {}),
          idempotencyKey: typeof key === 'string' ? key : '',
        },
        { ...(await options.asCaller(extra.signal)), timeoutMs: options.callTimeoutMs ?? 60_000 },
      );
      if (res.outcome.case === 'pendingAction' && server.getClientCapabilities()?.elicitation?.form) {
        const decided = await askApproval(res, res.outcome.value, extra);
        if (decided) return decided;
      }
      return toCallToolResult(res);
    } catch (error) {
      return { isError: true, content: [{ type: 'text', text: publicMessage(error, extra.signal, logger) }] };
    }
  });
  return server;
}
