import { toJson } from '@bufbuild/protobuf';
import { type ChatResponse, ChatResponseSchema, StopReason } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import type { ConversationStore, PendingActionRecord, PendingActionStore } from '../store/index.ts';
import { failedOutcome, type ToolExecutor, type ToolOutcome, type ToolRegistry } from '../tools/index.ts';
import {
  askForApproval,
  createTurnWrites,
  newTurnState,
  notExecutedMessage,
  type RunRounds,
  respond,
  resultMessage,
  type TurnContext,
  type TurnState,
  type TurnWrites,
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
// Its ledger end joins `writes`, to commit with its result message.
async function executeApproved(
  deps: DecisionDeps,
  ctx: TurnContext,
  action: PendingActionRecord,
  writes: TurnWrites,
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
      later: (write) => writes.later(write),
    },
  );
  return outcome ?? failedOutcome(action.toolCallId, action.toolName, 'INTERNAL', 'no result');
}

// The decision's one tool message: the write's result, or the refusal. The write's
// ledger end and its result message commit in one transaction, so a replica taking
// over after a crash knows from the conversation alone whether the write's outcome
// is recorded (see reconcileApprovedAction).
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
  const writes = createTurnWrites();
  const result = await executeApproved(deps, ctx, action, writes);
  state.executions.push(toExecution(result));
  ctx.emit?.({ case: 'toolCallFinished', value: { execution: toExecution(result) } });
  const message = resultMessage(result, deps.registry, deps.maxToolOutputChars);
  writes.later(() => deps.conversations.append(action.conversationId, [message]));
  await writes.flush();
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
    const what = !approve ? 'declined' : !done || done.success ? 'done' : `failed (${done.errorCode})`;
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
  options: { recorded?: boolean } = {},
): Promise<ChatResponse> {
  const state = newTurnState(action.conversationId);
  // Recorded already (a replica died after the write's result was stored, before the
  // action was finished): the tool is not called again, the model goes on from there.
  if (!options.recorded) await recordDecision(deps, ctx, state, action, approve);
  const response = await continueAfterDecision(deps, ctx, state, action, approve);
  await deps.actions.finish(
    action.actionId,
    approve ? 'executed' : 'declined',
    toJson(ChatResponseSchema, response),
  );
  return response;
}
