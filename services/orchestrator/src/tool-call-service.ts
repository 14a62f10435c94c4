import { randomUUID } from 'node:crypto';
import { create, toJson } from '@bufbuild/protobuf';
import {
  type CallToolResponse,
  CallToolResponseSchema,
  type ChatResponse,
  type DecideToolCallResponse,
  DecideToolCallResponseSchema,
  type Principal,
  PrincipalSchema,
  ToolCallService,
  ToolErrorCode,
} from '@toolmesh/proto';
import {
  Code,
  publicError,
  requireCredential,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';
import type { StoredMessage } from './core-types.ts';
import type { ChatRequestStore, ConversationStore, PendingActionStore } from './store/index.ts';
import type { ToolExecutor, ToolOutcome, ToolRegistry } from './tools/index.ts';
import {
  planRound,
  type RoundLimits,
  resultMessage,
  type TurnContext,
  toExecution,
  toPendingAction,
  withIdempotencyKey,
} from './turn/index.ts';

/** Options of {@link createToolCallService}. */
export interface ToolCallServiceOptions {
  registry: ToolRegistry;
  executor: ToolExecutor;
  conversations: ConversationStore;
  actions: PendingActionStore;
  /**
   * Idempotency keys of the caller's requests (shared with ChatRequest's: a key names one
   * request of one user, whichever RPC it came with).
   */
  requests: ChatRequestStore;
  /** ChatService.Confirm's decision (the chat engine's), which DecideToolCall answers with the tool's result. */
  confirm: (
    ctx: TurnContext,
    conversationId: string,
    actionId: string,
    approve: boolean,
  ) => Promise<ChatResponse>;
  /** How long a held write waits for its decision, as for a model's call. */
  approvalTtlSeconds: number;
  limits: RoundLimits & { maxToolOutputChars: number };
  /** Lease held on the call's conversation while it is recorded; default 30 s. */
  leaseMs?: number;
}

// A failed call's error as the caller sees it: code, sanitized message, and the retry hint
// from the error body the tool (or the executor) gave.
function toolError(errorCode: string, message: string, content: string) {
  let retryable = false;
  try {
    retryable = Boolean((JSON.parse(content) as { error?: { retryable?: unknown } }).error?.retryable);
  } catch {
    // A failure without the usual error body: not retryable.
  }
  const code = errorCode ? ToolErrorCode[errorCode as keyof typeof ToolErrorCode] : ToolErrorCode.INTERNAL;
  return { code: code ?? ToolErrorCode.INTERNAL, message, retryable };
}

const outcomeError = (o: ToolOutcome) => toolError(o.errorCode, o.errorMessage, o.content);

function checkRequest(toolName: string, idempotencyKey: string) {
  if (!toolName || toolName.length > 64) {
    throw publicError(Code.InvalidArgument, 'tool_name must be 1 to 64 characters');
  }
  if (idempotencyKey.length > 128 || /[^\x21-\x7e]/.test(idempotencyKey)) {
    throw publicError(Code.InvalidArgument, 'idempotency_key must be at most 128 printable ASCII characters');
  }
}

/**
 * ToolCallService: one tool call named by the caller (the gateway's MCP endpoint) instead
 * of a model, through the very checks of a model's call (planRound: known tool, the
 * caller's permission, argument size, JSON and schema). A read runs on the executor as the
 * caller (limits, cache, ledger and audit); a write is never run here: it is held as a
 * pending action in a new conversation of the caller's, which ChatService.Confirm decides
 * through the usual approval path. Each call that passes the checks is recorded in a
 * conversation of its own (a user line naming the call, the call, its result). With an
 * idempotency key, a retry answers the first response (the same pending action, the same
 * result) instead of holding or running the call again.
 */
export function createToolCallService(options: ToolCallServiceOptions): ServiceRegistration {
  const { registry, executor, conversations, actions, limits } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  return serviceRegistration(ToolCallService, {
    async callTool(req, ctx): Promise<CallToolResponse> {
      checkRequest(req.toolName, req.idempotencyKey);
      const { principal, requestId } = requireCredential(ctx);
      return withIdempotencyKey(
        options.requests,
        {
          owner: principal,
          key: req.idempotencyKey,
          // Tagged, so the same key given to a ChatRequest cannot answer this call's response.
          request: { rpc: 'CallTool', tool: req.toolName, arguments: req.argumentsJson },
        },
        CallToolResponseSchema,
        () => runCall(req.toolName, req.argumentsJson, principal, requestId, ctx.signal),
        // A refusal or a failed read changed nothing (writes are only held here): the retry runs.
        { keep: (response) => response.outcome.case !== 'error' },
      );
    },

    async decideToolCall(req, ctx): Promise<DecideToolCallResponse> {
      const { principal, requestId } = requireCredential(ctx);
      const decided = await options.confirm(
        { principal, requestId, signal: ctx.signal },
        req.conversationId,
        req.actionId,
        req.approve,
      );
      // Confirm found the action the caller's own (else NOT_FOUND): its call id names the result.
      const action = await actions.getOwned(req.actionId, principal);
      const execution = decided.toolExecutions.find((e) => e.toolCallId === action?.toolCallId);
      if (!action || !execution) {
        return create(DecideToolCallResponseSchema, { outcome: { case: 'declined', value: true } });
      }
      // The write's result as recorded in the conversation (what the model would read).
      const history = await conversations.load(req.conversationId);
      const recorded = history.find((m) => m.role === 'tool' && m.toolCallId === action.toolCallId);
      const content = recorded?.role === 'tool' ? recorded.content : '{}';
      return create(DecideToolCallResponseSchema, {
        outcome: execution.success
          ? { case: 'resultJson', value: content }
          : { case: 'error', value: toolError(execution.errorCode, execution.errorMessage, content) },
        execution,
      });
    },
  });

  async function runCall(
    toolName: string,
    argumentsJson: string,
    principal: Principal,
    requestId: string,
    signal: AbortSignal,
  ): Promise<CallToolResponse> {
    const conversationId = randomUUID();
    const toolCallId = `call_mcp_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    const toolCall = { id: toolCallId, name: toolName, arguments: argumentsJson };
    const token = randomUUID();
    let opened = false;
    // Created only for a call that passed the checks: a refusal stores nothing.
    const open = async () => {
      const history: StoredMessage[] = [
        { role: 'user', content: `mcp: tools/call ${toolName}` },
        { role: 'assistant', content: null, toolCalls: [toolCall] },
      ];
      await conversations.createHeld(principal, { leaseMs, token }, history, { conversationId });
      opened = true;
    };
    try {
      const { runnable, failed, held } = await planRound({
        conversationId,
        principal,
        calls: [toolCall],
        registry,
        limits,
        holdForApproval: async (action) => {
          await open();
          return actions.create({
            ...action,
            ttlSeconds: options.approvalTtlSeconds,
            principal: toJson(PrincipalSchema, principal),
          });
        },
      });
      const [refused] = failed;
      if (refused) {
        return create(CallToolResponseSchema, {
          outcome: { case: 'error', value: outcomeError(refused) },
          execution: toExecution(refused),
        });
      }
      const [pending] = held;
      if (pending) {
        return create(CallToolResponseSchema, {
          outcome: { case: 'pendingAction', value: toPendingAction(pending) },
          conversationId,
        });
      }
      await open();
      const [outcome] = await executor.executeAll(runnable, {
        principal,
        requestId,
        conversationId,
        signal,
      });
      if (!outcome) throw new Error('the executor answered no outcome');
      await conversations.append(conversationId, [
        resultMessage(outcome, registry, limits.maxToolOutputChars),
      ]);
      return create(CallToolResponseSchema, {
        outcome: outcome.success
          ? { case: 'resultJson', value: outcome.content }
          : { case: 'error', value: outcomeError(outcome) },
        execution: toExecution(outcome),
        conversationId,
      });
    } finally {
      if (opened) await conversations.release(conversationId, token);
    }
  }
}
