import { randomUUID } from 'node:crypto';
import { create, toJson } from '@bufbuild/protobuf';
import {
  type CallToolResponse,
  CallToolResponseSchema,
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
import type { ConversationStore, PendingActionStore } from './store/index.ts';
import type { ToolExecutor, ToolOutcome, ToolRegistry } from './tools/index.ts';
import { planRound, type RoundLimits, resultMessage, toExecution, toPendingAction } from './turn/index.ts';

/** Options of {@link createToolCallService}. */
export interface ToolCallServiceOptions {
  registry: ToolRegistry;
  executor: ToolExecutor;
  conversations: ConversationStore;
  actions: PendingActionStore;
  /** How long a held write waits for its decision, as for a model's call. */
  approvalTtlSeconds: number;
  limits: RoundLimits & { maxToolOutputChars: number };
  /** Lease held on the call's conversation while it is recorded; default 30 s. */
  leaseMs?: number;
}

// The outcome's error as the caller sees it: code, sanitized message, retry hint.
function toolError(outcome: ToolOutcome) {
  let retryable = false;
  try {
    retryable = Boolean(
      (JSON.parse(outcome.content) as { error?: { retryable?: unknown } }).error?.retryable,
    );
  } catch {
    // A failure without the usual error body: not retryable.
  }
  const code = outcome.errorCode
    ? ToolErrorCode[outcome.errorCode as keyof typeof ToolErrorCode]
    : ToolErrorCode.INTERNAL;
  return { code: code ?? ToolErrorCode.INTERNAL, message: outcome.errorMessage, retryable };
}

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
 * conversation of its own (a user line naming the call, the call, its result).
 */
export function createToolCallService(options: ToolCallServiceOptions): ServiceRegistration {
  const { registry, executor, conversations, actions, limits } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  return serviceRegistration(ToolCallService, {
    async callTool(req, ctx): Promise<CallToolResponse> {
      checkRequest(req.toolName, req.idempotencyKey);
      const { principal, requestId } = requireCredential(ctx);
      const conversationId = randomUUID();
      const toolCallId = `call_mcp_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      const call = { id: toolCallId, name: req.toolName, arguments: req.argumentsJson };
      const token = randomUUID();
      let opened = false;
      // Created only for a call that passed the checks: a refusal stores nothing.
      const open = async () => {
        const history: StoredMessage[] = [
          { role: 'user', content: `mcp: tools/call ${req.toolName}` },
          { role: 'assistant', content: null, toolCalls: [call] },
        ];
        await conversations.createHeld(principal, { leaseMs, token }, history, { conversationId });
        opened = true;
      };
      try {
        const { runnable, failed, held } = await planRound({
          conversationId,
          principal,
          calls: [call],
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
            outcome: { case: 'error', value: toolError(refused) },
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
          signal: ctx.signal,
        });
        if (!outcome) throw new Error('the executor answered no outcome');
        await conversations.append(conversationId, [
          resultMessage(outcome, registry, limits.maxToolOutputChars),
        ]);
        return create(CallToolResponseSchema, {
          outcome: outcome.success
            ? { case: 'resultJson', value: outcome.content }
            : { case: 'error', value: toolError(outcome) },
          execution: toExecution(outcome),
          conversationId,
        });
      } finally {
        if (opened) await conversations.release(conversationId, token);
      }
    },
  });
}
