import { type Clock, systemClock } from '@toolmesh/clock';
import { type ChatResponse, ChatResponseSchema } from '@toolmesh/proto';
import { type Logger, trace } from '@toolmesh/telemetry';
import {
  type ConfirmDeps,
  closeUndecided,
  confirmAction,
  reconcileApprovedAction,
} from './approvals/index.ts';
import {
  type AssistantCatalog,
  type ChosenAssistant,
  chooseAssistant,
  type ModelBackend,
} from './assistants/index.ts';
import type { TenantBudgets } from './budgets/index.ts';
import type { ModelPool } from './model/index.ts';
import type {
  ChatRequestStore,
  ConversationStore,
  PendingActionRecord,
  PendingActionStore,
} from './store/index.ts';
import type { CollectTaskResults, ToolExecutor, ToolRegistry } from './tools/index.ts';
import {
  type AdmittedTurn,
  createConversationLeases,
  type RoundDeps,
  type RoundLimits,
  type RunRounds,
  runRounds,
  type StartTurnDeps,
  startTurn,
  type TurnAdmission,
  type TurnAssistant,
  type TurnContext,
  type TurnObserver,
  type TurnState,
  withIdempotencyKey,
} from './turn/index.ts';

export type { ChatEvent, EmitEvent, TurnContext, TurnObserver } from './turn/index.ts';

/** Options of {@link createChatEngine}. */
export interface ChatEngineOptions {
  conversations: ConversationStore;
  actions: PendingActionStore;
  chatRequests: ChatRequestStore;
  /** Results of async tasks that finished since the last turn. */
  collectTaskResults?: CollectTaskResults;
  registry: ToolRegistry;
  executor: ToolExecutor;
  /** A client per model backend of the catalog. */
  models: ModelPool;
  /** The assistants in force; taken once per turn. */
  assistants: { current(): AssistantCatalog };
  /** Tenants' budgets; none: no tenant is limited. */
  budgets?: TenantBudgets;
  /** Hears model answers, fallbacks and ended turns (metrics, the usage table). */
  observer?: TurnObserver;
  logger: Logger;
  /** The orchestrator's limits; an assistant's own limits replace them for its turns. */
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
  /**
   * One user turn, with the named assistant ("" for the default; a continuing
   * conversation keeps its own); a non-empty idempotency key makes a retry answer
   * the first response.
   */
  chat(
    ctx: TurnContext,
    conversationId: string,
    message: string,
    idempotencyKey?: string,
    assistant?: string,
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
  const { assistants, budgets } = options;
  const observer: TurnObserver = {
    modelFellBack(from, error) {
      logger.warn({ err: error, model: from.name }, 'model unavailable; asking the next one');
      options.observer?.modelFellBack?.(from, error);
    },
    async modelAnswered(event) {
      // Tokens count against the tenant's day as soon as they are spent.
      await budgets?.spend(event.tenantId, event.promptTokens + event.completionTokens);
      await options.observer?.modelAnswered?.(event);
    },
  };
  const rounds: RoundDeps = {
    conversations,
    actions,
    executor,
    registry,
    models: options.models,
    maxRounds: options.maxRounds,
    approvalTtlSeconds: options.approvalTtlSeconds,
    limits,
    contextBudgetTokens: limits.contextBudgetTokens,
    maxOfferedTools: limits.maxOfferedTools,
    observer,
  };
  const withBackends = (catalog: AssistantCatalog, chosen: ChosenAssistant): TurnAssistant => ({
    ...chosen,
    // The parser checks every name; a missing one would be a catalog bug, skipped here.
    backends: chosen.profile.models.flatMap((name): ModelBackend[] => {
      const backend = catalog.models.get(name);
      return backend ? [backend] : [];
    }),
  });
  const choose = (catalog: AssistantCatalog, ctx: TurnContext, request: TurnAdmission) =>
    withBackends(
      catalog,
      chooseAssistant(catalog, {
        requested: request.requested,
        tenantId: ctx.principal.tenantId,
        conversationId: request.conversationId,
        ...(request.stored ? { stored: request.stored } : {}),
      }),
    );
  const admit = async (ctx: TurnContext, request: TurnAdmission): Promise<AdmittedTurn> => {
    const catalog = assistants.current();
    const assistant = choose(catalog, ctx, request);
    // On the turn's span, so traces of two variants can be told apart.
    trace.getActiveSpan()?.setAttributes({
      'toolmesh.assistant': assistant.assistant,
      'toolmesh.variant': assistant.variant,
    });
    const tenantId = ctx.principal.tenantId;
    const release = budgets ? await budgets.admit(tenantId, catalog.tenants.get(tenantId)) : async () => {};
    return { assistant, release };
  };
  const ended = async (ctx: TurnContext, state: TurnState) => {
    const { usage, assistant } = state;
    if (!usage.modelCalls || !assistant) return;
    try {
      await options.observer?.turnEnded?.({
        tenantId: ctx.principal.tenantId,
        userId: ctx.principal.userId,
        conversationId: state.conversationId,
        assistant: assistant.assistant,
        variant: assistant.variant,
        ...usage,
      });
    } catch (error) {
      // Usage is bookkeeping: losing a row must not fail the turn that was answered.
      logger.warn({ err: error, conversationId: state.conversationId }, 'turn usage not recorded');
    }
  };
  // The rounds of a turn or of a Confirm, with the assistant's own limits where it sets them.
  const run: RunRounds = async (ctx, state, history) => {
    if (!state.assistant) {
      // A Confirm continues with the conversation's assistant; it is not refused by
      // budgets, as the approved write has already run and its answer is owed.
      const stored = await conversations.assistantOf(state.conversationId);
      state.assistant = choose(assistants.current(), ctx, {
        requested: '',
        conversationId: state.conversationId,
        ...(stored ? { stored } : {}),
      });
    }
    const own = state.assistant.profile.limits;
    const deps: RoundDeps = {
      ...rounds,
      maxRounds: own.maxRounds ?? rounds.maxRounds,
      contextBudgetTokens: own.contextBudgetTokens ?? rounds.contextBudgetTokens,
      maxOfferedTools: own.maxOfferedTools ?? rounds.maxOfferedTools,
    };
    try {
      return await runRounds(deps, ctx, state, history);
    } finally {
      // The usage row goes with the turn's last writes when it has them (one flush).
      const { writes } = state;
      if (writes) writes.later(() => ended(ctx, state));
      else await ended(ctx, state);
    }
  };
  const closeWaiting = (conversationId: string) =>
    closeUndecided({ actions, conversations, clock }, conversationId);
  const turn: StartTurnDeps = {
    conversations,
    leases,
    closeUndecided: closeWaiting,
    collectTaskResults: options.collectTaskResults,
    admit,
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
    chat: (ctx, requestedId, message, idempotencyKey = '', assistant = '') =>
      withIdempotencyKey(
        options.chatRequests,
        {
          owner: ctx.principal,
          key: idempotencyKey,
          // The assistant is part of the request only when named, so earlier claims still match.
          request: { requestedId, message, ...(assistant ? { assistant } : {}) },
        },
        ChatResponseSchema,
        () => startTurn(turn, ctx, requestedId, message, assistant),
      ),
    confirm: (ctx, conversationId, actionId, approve) =>
      confirmAction(decisions, ctx, { conversationId, actionId, approve }),
    reconcileAction: (action, signal) => reconcileApprovedAction(decisions, action, signal),
  };
}
