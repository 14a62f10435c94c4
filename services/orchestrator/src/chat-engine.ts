import { type Clock, systemClock } from '@toolmesh/clock';
import type { ChatResponse } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import {
  type ConfirmDeps,
  closeUndecided,
  confirmAction,
  reconcileApprovedAction,
} from './approvals/index.ts';
import type { ModelClient } from './model/index.ts';
import type {
  ChatRequestStore,
  ConversationStore,
  PendingActionRecord,
  PendingActionStore,
} from './store/index.ts';
import type { CollectTaskResults, ToolExecutor, ToolRegistry } from './tools/index.ts';
import {
  createConversationLeases,
  type RoundDeps,
  type RoundLimits,
  type RunRounds,
  runRounds,
  type StartTurnDeps,
  startTurn,
  type TurnContext,
  withIdempotencyKey,
} from './turn/index.ts';

export type { ChatEvent, EmitEvent, TurnContext } from './turn/index.ts';

/** Options of {@link createChatEngine}. */
export interface ChatEngineOptions {
  conversations: ConversationStore;
  actions: PendingActionStore;
  chatRequests: ChatRequestStore;
  /** Results of async tasks that finished since the last turn. */
  collectTaskResults?: CollectTaskResults;
  registry: ToolRegistry;
  executor: ToolExecutor;
  model: ModelClient;
  logger: Logger;
  maxRounds: number;
  approvalTtlSeconds: number;
  limits: RoundLimits & {
    /** Default output budget of one tool result, in characters. */
    maxToolOutputChars: number;
    /** Token budget of the prompt. */
    contextBudgetTokens: number;
    /** Tools offered per model request, at most. */
    maxOfferedTools: number;
  };
  /** Lease on a conversation while a turn runs, renewed every third; default 30 s. */
  conversationLeaseMs?: number;
  /** Renews leases and tells expired approvals; default the system clock. */
  clock?: Clock;
}

/** The loop: model → validated tool calls → results → model …, with server-owned approvals. */
export interface ChatEngine {
  /** One user turn; a non-empty idempotency key makes a retry answer the first response. */
  chat(
    ctx: TurnContext,
    conversationId: string,
    message: string,
    idempotencyKey?: string,
  ): Promise<ChatResponse>;
  confirm(
    ctx: TurnContext,
    conversationId: string,
    actionId: string,
    approve: boolean,
  ): Promise<ChatResponse>;
  /**
   * Finishes an approved write whose orchestrator died mid-execution: the call is
   * sent again with the same idempotency key, so the tool service answers its
   * stored result instead of writing twice.
   */
  reconcileAction(action: PendingActionRecord, signal: AbortSignal): Promise<void>;
}

/**
 * Creates the {@link ChatEngine} from its steps: a Chat is the idempotent claim
 * (turn/idempotent-claim), then the turn on its leased conversation
 * (turn/start-turn, turn/conversation-lease) running the rounds (turn/run-rounds);
 * a Confirm is the decision on a held write (approvals/confirm-action), which
 * lets the rounds go on. Responses are mapped in turn/turn-response.
 */
export function createChatEngine(options: ChatEngineOptions): ChatEngine {
  const { conversations, actions, registry, executor, logger, limits } = options;
  const clock = options.clock ?? systemClock;
  const leases = createConversationLeases({
    conversations,
    logger,
    leaseMs: options.conversationLeaseMs,
    clock,
  });
  const rounds: RoundDeps = {
    conversations,
    actions,
    executor,
    registry,
    model: options.model,
    maxRounds: options.maxRounds,
    approvalTtlSeconds: options.approvalTtlSeconds,
    limits,
    contextBudgetTokens: limits.contextBudgetTokens,
    maxOfferedTools: limits.maxOfferedTools,
  };
  const run: RunRounds = (ctx, state, history) => runRounds(rounds, ctx, state, history);
  const closeWaiting = (conversationId: string) =>
    closeUndecided({ actions, conversations, clock }, conversationId);
  const turn: StartTurnDeps = {
    conversations,
    leases,
    closeUndecided: closeWaiting,
    collectTaskResults: options.collectTaskResults,
    runRounds: run,
  };
  const decisions: ConfirmDeps = {
    actions,
    conversations,
    registry,
    executor,
    logger,
    maxToolOutputChars: limits.maxToolOutputChars,
    runRounds: run,
    leases,
    closeUndecided: closeWaiting,
  };

  return {
    chat: (ctx, requestedId, message, idempotencyKey = '') =>
      withIdempotencyKey(
        options.chatRequests,
        { owner: ctx.principal, key: idempotencyKey, request: { requestedId, message } },
        () => startTurn(turn, ctx, requestedId, message),
      ),
    confirm: (ctx, conversationId, actionId, approve) =>
      confirmAction(decisions, ctx, { conversationId, actionId, approve }),
    reconcileAction: (action, signal) => reconcileApprovedAction(decisions, action, signal),
  };
}
