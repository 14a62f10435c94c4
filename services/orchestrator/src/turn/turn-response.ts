import { create } from '@bufbuild/protobuf';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  type ChatResponse,
  ChatResponseSchema,
  type PendingAction,
  PendingActionSchema,
  StopReason,
  type ToolExecution,
  ToolExecutionSchema,
} from '@toolmesh/proto';
import type { PendingActionRecord } from '../store/index.ts';
import type { ToolOutcome } from '../tools/index.ts';
import type { TurnState } from './turn-context.ts';

/** A tool call's outcome as the caller sees it. */
export function toExecution(o: ToolOutcome): ToolExecution {
  return create(ToolExecutionSchema, {
    toolCallId: o.toolCallId,
    toolName: o.toolName,
    success: o.success,
    errorCode: o.errorCode,
    errorMessage: o.errorMessage,
    duration: durationFromMs(o.durationMs),
    cached: o.cached,
    attempts: o.attempts ?? 0,
  });
}

/**
 * A held write as the caller sees it: sensitive fields masked (the real arguments
 * stay in the store, for the execution after approval).
 */
export function toPendingAction(a: PendingActionRecord): PendingAction {
  return create(PendingActionSchema, {
    actionId: a.actionId,
    toolName: a.toolName,
    argumentsJson: a.maskedArgumentsJson,
    summary: a.summary,
    expiresAt: timestampFromDate(a.expiresAt),
  });
}

/** The turn's response: its reply, everything it executed and its usage. */
export function respond(
  state: TurnState,
  reply: string,
  stopReason: StopReason,
  pending: PendingAction[] = [],
): ChatResponse {
  const { promptTokens, completionTokens, modelCalls, model } = state.usage;
  return create(ChatResponseSchema, {
    conversationId: state.conversationId,
    reply,
    toolExecutions: state.executions,
    pendingActions: pending,
    usage: {
      promptTokens,
      completionTokens,
      totalTokens: promptTokens + completionTokens,
      modelCalls,
      model,
      assistant: state.assistant?.assistant ?? '',
      variant: state.assistant?.variant ?? '',
    },
    stopReason,
  });
}

/** Stops the turn for the user's decision on `waiting`, after what the model said (if anything). */
export function askForApproval(
  state: TurnState,
  waiting: PendingActionRecord[],
  said: string | null = null,
): ChatResponse {
  const ask = `Waiting for your approval: ${waiting.map((a) => a.summary).join('; ')}.`;
  return respond(
    state,
    said ? `${said}\n\n${ask}` : ask,
    StopReason.AWAITING_CONFIRMATION,
    waiting.map(toPendingAction),
  );
}
