import { toJson } from '@bufbuild/protobuf';
import { type ChatResponse, ChatResponseSchema, StopReason } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import type { ConversationStore, PendingActionRecord, PendingActionStore } from '../store/index.ts';
import { failedOutcome, type ToolExecutor, type ToolOutcome, type ToolRegistry } from '../tools/index.ts';
import {
  askForApproval,
  newTurnState,
  notExecutedMessage,
  type RunRounds,
  respond,
  resultMessage,
  type TurnContext,
  type TurnState,
  toExecution,
} from '../turn/index.ts';

/** What carrying out a decision needs. */
export interface DecisionDeps {
  actions: PendingActionStore;
  conversations: ConversationStore;
  registry: ToolRegistry;
  executor: ToolExecutor;
  logger: Logger;
  /** Default output budget of one tool result, in characters. */
  maxToolOutputChars: number;
  /** Lets the model go on once nothing waits any more. */
  runRounds: RunRounds;
}

// The approved write, with exactly the stored arguments (the model is not asked
// again) and a key that makes the tool service answer a repeat with its first result.
async function executeApproved(
  deps: DecisionDeps,
  ctx: TurnContext,
  action: PendingActionRecord,
): Promise<ToolOutcome> {
  const tool = deps.registry.get(action.toolName);
  if (!tool) {
    return failedOutcome(
      action.toolCallId,
      action.toolName,
      'UNAVAILABLE',
      'the tool is not available',
      true,
    );
  }
  const [outcome] = await deps.executor.executeAll(
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
  );
  return outcome ?? failedOutcome(action.toolCallId, action.toolName, 'INTERNAL', 'no result');
}

// The decision's one tool message: the write's result, or the refusal.
async function recordDecision(
  deps: DecisionDeps,
  ctx: TurnContext,
  state: TurnState,
  action: PendingActionRecord,
  approve: boolean,
): Promise<void> {
  if (!approve) {
    await deps.conversations.append(action.conversationId, [
      notExecutedMessage(
        action.toolCallId,
        'DECLINED',
        'The user declined this action; it was not executed.',
      ),
    ]);
    return;
  }
  const result = await executeApproved(deps, ctx, action);
  state.executions.push(toExecution(result));
  ctx.emit?.({ case: 'toolCallFinished', value: { execution: toExecution(result) } });
  await deps.conversations.append(action.conversationId, [
    resultMessage(result, deps.registry, deps.maxToolOutputChars),
  ]);
}

// Other actions still waiting: ask again. Otherwise the model goes on; the decision
// is final even if it cannot, and the reply says so.
async function continueAfterDecision(
  deps: DecisionDeps,
  ctx: TurnContext,
  state: TurnState,
  action: PendingActionRecord,
  approve: boolean,
): Promise<ChatResponse> {
  const stillPending = await deps.actions.listUndecided(action.conversationId);
  if (stillPending.length) return askForApproval(state, stillPending);
  try {
    return await deps.runRounds(ctx, state, await deps.conversations.load(action.conversationId));
  } catch (error) {
    deps.logger.warn({ err: error, action_id: action.actionId }, 'continuing after the decision failed');
    const done = state.executions[0];
    const what = !approve ? 'declined' : done?.success ? 'done' : `failed (${done?.errorCode})`;
    return respond(
      state,
      `${action.summary}: ${what}. The assistant could not continue right now; ask again to go on.`,
      StopReason.COMPLETED,
    );
  }
}

/**
 * After the decision was claimed: run the approved write or record the refusal,
 * let the model go on, and store the response every repeated Confirm will get.
 */
export async function completeDecision(
  deps: DecisionDeps,
  ctx: TurnContext,
  action: PendingActionRecord,
  approve: boolean,
): Promise<ChatResponse> {
  const state = newTurnState(action.conversationId);
  await recordDecision(deps, ctx, state, action, approve);
  const response = await continueAfterDecision(deps, ctx, state, action, approve);
  await deps.actions.finish(
    action.actionId,
    approve ? 'executed' : 'declined',
    toJson(ChatResponseSchema, response),
  );
  return response;
}
