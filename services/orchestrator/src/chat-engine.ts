import { randomUUID } from 'node:crypto';
import { create, fromJson, type JsonValue, toJson } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  type ChatResponse,
  ChatResponseSchema,
  type PendingAction,
  PendingActionSchema,
  type Principal,
  PrincipalSchema,
  StopReason,
  type ToolExecution,
  ToolExecutionSchema,
} from '@toolmesh/proto';
import { Code, publicError } from '@toolmesh/rpc';
import { type Logger, maskSensitiveJson } from '@toolmesh/telemetry';
import type { ModelClient } from './model/index.ts';
import type {
  ChatRequestStore,
  ConversationStore,
  PendingActionRecord,
  PendingActionStore,
  StoredMessage,
} from './store/index.ts';
import type { CollectTaskResults, ToolExecutor, ToolRegistry } from './tools/index.ts';
import { failedOutcome, type ToolOutcome } from './tools/index.ts';
import {
  buildPrompt,
  type EmitEvent,
  fitToBudget,
  fitToolOutput,
  offeredTools,
  planRound,
  type RoundLimits,
  withUniqueCallIds,
} from './turn/index.ts';

export type { ChatEvent, EmitEvent } from './turn/index.ts';

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
}

/** One call of the engine, as the orchestrator service passes it. */
export interface TurnContext {
  principal: Principal;
  requestId: string;
  signal: AbortSignal;
  /** Stream text deltas and tool events; absent for unary Chat. */
  emit?: EmitEvent;
}

/** The seed's loop: model → validated tool calls → results → model …, with server-owned approvals. */
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

// Accumulates what one turn produced, for the response.
interface TurnState {
  conversationId: string;
  executions: ToolExecution[];
  usage: { promptTokens: number; completionTokens: number; modelCalls: number };
}

const toolMessage = (o: { toolCallId: string; content: string }): StoredMessage => ({
  role: 'tool',
  toolCallId: o.toolCallId,
  content: o.content,
});

const notExecuted = (code: string, message: string) =>
  JSON.stringify({ error: { code, message, retryable: false } });

/** Creates the {@link ChatEngine}. */
export function createChatEngine(options: ChatEngineOptions): ChatEngine {
  const { conversations, actions, chatRequests, registry, executor, model, logger } = options;
  const leaseMs = options.conversationLeaseMs ?? 30_000;

  const prompt = (history: StoredMessage[]) =>
    fitToBudget(buildPrompt(history), options.limits.contextBudgetTokens);

  // A result as the model reads it: bounded by its tool's output budget, stored that way.
  const resultMessage = (o: ToolOutcome): StoredMessage => {
    const metadata = registry.get(o.toolName)?.definition.metadata;
    return toolMessage({
      toolCallId: o.toolCallId,
      content: fitToolOutput(o.content, {
        maxChars: metadata?.maxOutputChars || options.limits.maxToolOutputChars,
        summaryFields: metadata?.summaryFields ?? [],
      }),
    });
  };

  const newState = (conversationId: string): TurnState => ({
    conversationId,
    executions: [],
    usage: { promptTokens: 0, completionTokens: 0, modelCalls: 0 },
  });

  const toExecution = (o: ToolOutcome): ToolExecution =>
    create(ToolExecutionSchema, {
      toolCallId: o.toolCallId,
      toolName: o.toolName,
      success: o.success,
      errorCode: o.errorCode,
      errorMessage: o.errorMessage,
      duration: durationFromMs(o.durationMs),
      cached: o.cached,
      attempts: o.attempts ?? 0,
    });

  const toPendingAction = (a: PendingActionRecord): PendingAction =>
    create(PendingActionSchema, {
      actionId: a.actionId,
      toolName: a.toolName,
      argumentsJson: a.argumentsJson,
      summary: a.summary,
      expiresAt: timestampFromDate(a.expiresAt),
    });

  function respond(state: TurnState, reply: string, stopReason: StopReason, pending: PendingAction[] = []) {
    const { promptTokens, completionTokens, modelCalls } = state.usage;
    return create(ChatResponseSchema, {
      conversationId: state.conversationId,
      reply,
      toolExecutions: state.executions,
      pendingActions: pending,
      usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, modelCalls },
      stopReason,
    });
  }

  const busy = () =>
    publicError(Code.Aborted, 'another request is running on this conversation; retry when it is done');

  // Keeps an acquired lease while the work runs, renewed every third of it, across
  // replicas: a crashed holder frees the conversation within one lease.
  async function holdLease<T>(conversationId: string, token: string, work: () => Promise<T>): Promise<T> {
    const renewal = setInterval(() => {
      conversations.renew(conversationId, leaseMs, token).catch((error: unknown) => {
        logger.warn(
          { err: error, conversation_id: conversationId },
          'renewing the conversation lease failed',
        );
      });
    }, leaseMs / 3);
    try {
      return await work();
    } finally {
      clearInterval(renewal);
      await conversations.release(conversationId, token).catch((error: unknown) => {
        logger.warn({ err: error, conversation_id: conversationId }, 'releasing the conversation failed');
      });
    }
  }

  // Holds the conversation for the duration of the work (a decision on one of its actions).
  async function withConversation<T>(conversationId: string, work: () => Promise<T>): Promise<T> {
    const token = randomUUID();
    if (!(await conversations.tryAcquire(conversationId, leaseMs, token))) throw busy();
    return holdLease(conversationId, token, work);
  }

  // Model rounds until a final answer, an approval stop, or the round limit. The
  // history is read once per turn: while the turn holds the lease nobody else
  // appends, so what it appends itself is kept in memory as it is stored.
  async function runRounds(
    ctx: TurnContext,
    state: TurnState,
    history: StoredMessage[],
  ): Promise<ChatResponse> {
    const emit = ctx.emit;
    const append = async (messages: StoredMessage[]) => {
      history.push(...(await conversations.append(state.conversationId, messages)));
    };
    for (let round = 0; round < options.maxRounds; round++) {
      const answer = await model.complete({
        messages: prompt(history),
        tools: offeredTools(registry.list(), ctx.principal.permissions, {
          history,
          limit: options.limits.maxOfferedTools,
        }),
        signal: ctx.signal,
        onTextDelta: emit && ((text) => emit({ case: 'textDelta', value: { text } })),
      });
      state.usage.modelCalls++;
      state.usage.promptTokens += answer.usage.promptTokens;
      state.usage.completionTokens += answer.usage.completionTokens;
      const toolCalls = withUniqueCallIds(answer.toolCalls, history);
      await append([{ role: 'assistant', content: answer.content, toolCalls }]);
      if (!toolCalls.length) return respond(state, answer.content ?? '', StopReason.COMPLETED);

      const { runnable, failed, held } = await planRound({
        conversationId: state.conversationId,
        principal: ctx.principal,
        calls: toolCalls,
        registry,
        limits: options.limits,
        holdForApproval: (action) =>
          actions.create({
            ...action,
            ttlSeconds: options.approvalTtlSeconds,
            principal: toJson(PrincipalSchema, ctx.principal),
          }),
      });
      const outcomes = await executor.executeAll(
        runnable,
        {
          principal: ctx.principal,
          requestId: ctx.requestId,
          conversationId: state.conversationId,
          signal: ctx.signal,
        },
        {
          onStart: (call) =>
            emit?.({
              case: 'toolCallStarted',
              value: {
                toolCallId: call.toolCallId,
                toolName: call.tool.definition.name,
                argumentsJson: maskSensitiveJson(
                  call.argumentsJson,
                  call.tool.definition.metadata?.sensitiveFields,
                ),
              },
            }),
          onFinish: (outcome) =>
            emit?.({ case: 'toolCallFinished', value: { execution: toExecution(outcome) } }),
        },
      );
      for (const f of failed) emit?.({ case: 'toolCallFinished', value: { execution: toExecution(f) } });
      const byId = new Map([...outcomes, ...failed].map((o) => [o.toolCallId, o]));
      const finished = toolCalls.flatMap((c) => {
        const o = byId.get(c.id);
        return o ? [o] : [];
      });
      state.executions.push(...finished.map(toExecution));
      await append(finished.map(resultMessage));
      if (held.length) {
        const pending = held.map(toPendingAction);
        for (const p of pending) emit?.({ case: 'pendingAction', value: p });
        const ask = `Waiting for your approval: ${held.map((a) => a.summary).join('; ')}.`;
        return respond(
          state,
          answer.content ? `${answer.content}\n\n${ask}` : ask,
          StopReason.AWAITING_CONFIRMATION,
          pending,
        );
      }
    }
    // Round limit: one last answer without tools, so the caller always gets a reply.
    const answer = await model.complete({
      messages: prompt(history),
      tools: offeredTools(registry.list(), ctx.principal.permissions, {
        history,
        limit: options.limits.maxOfferedTools,
      }),
      toolChoice: 'none',
      signal: ctx.signal,
      onTextDelta: emit && ((text) => emit({ case: 'textDelta', value: { text } })),
    });
    state.usage.modelCalls++;
    state.usage.promptTokens += answer.usage.promptTokens;
    state.usage.completionTokens += answer.usage.completionTokens;
    const reply = answer.content ?? 'I could not finish this request within the allowed number of steps.';
    await append([{ role: 'assistant', content: reply, toolCalls: [] }]);
    return respond(state, reply, StopReason.ROUND_LIMIT);
  }

  // A new message while actions wait: they are closed unexecuted, each with its one tool message.
  async function closeUndecided(conversationId: string) {
    const undecided = await actions.listUndecided(conversationId);
    if (!undecided.length) return;
    const now = Date.now();
    const expired = undecided.filter((a) => a.expiresAt.getTime() <= now);
    const superseded = undecided.filter((a) => a.expiresAt.getTime() > now);
    await actions.close(
      expired.map((a) => a.actionId),
      'expired',
    );
    await actions.close(
      superseded.map((a) => a.actionId),
      'superseded',
    );
    await conversations.append(conversationId, [
      ...expired.map((a) =>
        toolMessage({
          toolCallId: a.toolCallId,
          content: notExecuted('EXPIRED', 'The approval expired; not executed.'),
        }),
      ),
      ...superseded.map((a) =>
        toolMessage({
          toolCallId: a.toolCallId,
          content: notExecuted('NOT_CONFIRMED', 'The user did not approve this action; it was not executed.'),
        }),
      ),
    ]);
  }

  async function runTurn(ctx: TurnContext, requestedId: string, message: string): Promise<ChatResponse> {
    const token = randomUUID();
    const user: StoredMessage = { role: 'user', content: message };
    if (!requestedId) {
      // A new conversation is created already held, with the user's message: it has
      // no actions waiting and no tasks yet, and its history is just that message.
      const { conversationId, messages: history } = await conversations.createHeld(
        ctx.principal,
        { leaseMs, token },
        [user],
      );
      return holdLease(conversationId, token, () => runRounds(ctx, newState(conversationId), history));
    }
    const acquired = await conversations.acquireOwned(requestedId, ctx.principal.userId, { leaseMs, token });
    if (acquired === 'not_found') throw publicError(Code.NotFound, 'conversation not found');
    if (acquired === 'busy') throw busy();
    return holdLease(requestedId, token, async () => {
      await closeUndecided(requestedId);
      const taskNotes = (await options.collectTaskResults?.(requestedId, ctx.principal)) ?? [];
      await conversations.append(requestedId, [...taskNotes, user]);
      return runRounds(ctx, newState(requestedId), await conversations.load(requestedId));
    });
  }

  // After the decision: run the approved write (exactly the stored arguments, the
  // model is not asked again) or record the refusal, then let the model go on.
  async function completeDecision(
    ctx: TurnContext,
    action: PendingActionRecord,
    approve: boolean,
  ): Promise<ChatResponse> {
    const state = newState(action.conversationId);
    if (approve) {
      const tool = registry.get(action.toolName);
      const [outcome] = tool
        ? await executor.executeAll(
            [
              {
                toolCallId: action.toolCallId,
                tool,
                argumentsJson: action.argumentsJson,
                idempotencyKey: `${action.conversationId}:${action.actionId}:${action.argumentsHash}`,
                actionId: action.actionId,
                approver: ctx.principal.userId,
              },
            ],
            {
              principal: ctx.principal,
              requestId: ctx.requestId,
              conversationId: action.conversationId,
              signal: ctx.signal,
            },
          )
        : [
            failedOutcome(
              action.toolCallId,
              action.toolName,
              'UNAVAILABLE',
              'the tool is not available',
              true,
            ),
          ];
      const result = outcome ?? failedOutcome(action.toolCallId, action.toolName, 'INTERNAL', 'no result');
      state.executions.push(toExecution(result));
      ctx.emit?.({ case: 'toolCallFinished', value: { execution: toExecution(result) } });
      await conversations.append(action.conversationId, [resultMessage(result)]);
    } else {
      await conversations.append(action.conversationId, [
        toolMessage({
          toolCallId: action.toolCallId,
          content: notExecuted('DECLINED', 'The user declined this action; it was not executed.'),
        }),
      ]);
    }
    const stillPending = await actions.listUndecided(action.conversationId);
    let response: ChatResponse;
    if (stillPending.length) {
      const ask = `Waiting for your approval: ${stillPending.map((a) => a.summary).join('; ')}.`;
      response = respond(state, ask, StopReason.AWAITING_CONFIRMATION, stillPending.map(toPendingAction));
    } else {
      try {
        response = await runRounds(ctx, state, await conversations.load(action.conversationId));
      } catch (error) {
        // The decision is final even if the assistant cannot go on: record and report it.
        logger.warn({ err: error, action_id: action.actionId }, 'continuing after the decision failed');
        const done = state.executions[0];
        const what = !approve ? 'declined' : done?.success ? 'done' : `failed (${done?.errorCode})`;
        response = respond(
          state,
          `${action.summary}: ${what}. The assistant could not continue right now; ask again to go on.`,
          StopReason.COMPLETED,
        );
      }
    }
    await actions.finish(
      action.actionId,
      approve ? 'executed' : 'declined',
      toJson(ChatResponseSchema, response),
    );
    return response;
  }

  return {
    async chat(ctx, requestedId, message, idempotencyKey = '') {
      const userId = ctx.principal.userId;
      if (idempotencyKey) {
        const claim = await chatRequests.claim(userId, idempotencyKey, { requestedId, message });
        if (claim.state === 'done') return fromJson(ChatResponseSchema, claim.response as JsonValue);
        if (claim.state === 'in_progress') {
          throw publicError(
            Code.Aborted,
            'a request with this idempotency key is still running; retry later',
          );
        }
        if (claim.state === 'mismatch') {
          throw publicError(Code.InvalidArgument, 'idempotency key reused with a different request');
        }
      }
      try {
        const response = await runTurn(ctx, requestedId, message);
        if (idempotencyKey)
          await chatRequests.complete(userId, idempotencyKey, toJson(ChatResponseSchema, response));
        return response;
      } catch (error) {
        if (idempotencyKey) await chatRequests.release(userId, idempotencyKey).catch(() => {});
        throw error;
      }
    },

    async confirm(ctx, conversationId, actionId, approve) {
      const action = await actions.get(actionId);
      if (!action || action.conversationId !== conversationId)
        throw publicError(Code.NotFound, 'action not found');
      if (action.userId !== ctx.principal.userId) {
        throw publicError(Code.PermissionDenied, 'only the user who asked may decide on this action');
      }
      // A repeated Confirm answers the first decision again; nothing runs twice.
      if (action.response) return fromJson(ChatResponseSchema, action.response as JsonValue);
      return withConversation(conversationId, async () => {
        const claimed = await actions.claim(
          actionId,
          approve ? 'executing' : 'declined',
          ctx.principal.userId,
        );
        if (!claimed) {
          const current = await actions.get(actionId);
          if (current?.response) return fromJson(ChatResponseSchema, current.response as JsonValue);
          if (current?.status === 'pending' || current?.status === 'expired') {
            await closeUndecided(conversationId);
            throw publicError(Code.FailedPrecondition, 'the action expired; ask again to get a new one');
          }
          if (current?.status === 'executing') {
            // Running now, or being recovered after a crash: the result will be stored.
            throw publicError(Code.Aborted, 'the action is being executed; retry shortly for its result');
          }
          throw publicError(Code.FailedPrecondition, `the action is ${current?.status ?? 'gone'}`);
        }
        return completeDecision(ctx, action, approve);
      });
    },

    async reconcileAction(action, signal) {
      const principal = fromJson(PrincipalSchema, action.principal as JsonValue);
      const ctx: TurnContext = { principal, requestId: `reconcile:${action.actionId}`, signal };
      await withConversation(action.conversationId, () => completeDecision(ctx, action, true));
    },
  };
}
