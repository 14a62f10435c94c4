import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ChatStreamResponseSchema, Principal, ToolExecution } from '@toolmesh/proto';
import type { ChosenAssistant, ModelBackend } from '../assistants/index.ts';
import type { TurnUsageRow } from '../store/index.ts';
import type { TurnWrites } from './turn-writes.ts';

/** A streamed event of a turn (the oneof of ChatStreamResponse). */
export type ChatEvent = NonNullable<MessageInitShape<typeof ChatStreamResponseSchema>['event']>;

/** Where a turn reports progress; Chat ignores it, ChatStream forwards it. */
export type EmitEvent = (event: ChatEvent) => void;

/** One call of the engine, as the orchestrator service passes it. */
export interface TurnContext {
  principal: Principal;
  requestId: string;
  signal: AbortSignal;
  /** Stream text deltas and tool events; absent for unary Chat. */
  emit?: EmitEvent;
}

/** The assistant a turn runs with, its model backends resolved from the catalog the turn took. */
export interface TurnAssistant extends ChosenAssistant {
  /** The profile's models in order: the primary, then the fallbacks. */
  backends: ModelBackend[];
}

/** What one turn produced so far, for its response. */
export interface TurnState {
  conversationId: string;
  /** Set before the first model call (the chat engine chooses it). */
  assistant?: TurnAssistant;
  executions: ToolExecution[];
  usage: {
    promptTokens: number;
    completionTokens: number;
    modelCalls: number;
    /** The model that answered last ("" before any answer). */
    model: string;
  };
  /**
   * The turn's writes held back until they must be durable; absent: each write is
   * made durable before the round goes on (a Confirm's rounds).
   */
  writes?: TurnWrites;
}

/** A turn that has produced nothing yet. */
export function newTurnState(
  conversationId: string,
  assistant?: TurnAssistant,
  writes?: TurnWrites,
): TurnState {
  return {
    conversationId,
    ...(assistant ? { assistant } : {}),
    ...(writes ? { writes } : {}),
    executions: [],
    usage: { promptTokens: 0, completionTokens: 0, modelCalls: 0, model: '' },
  };
}

/** What a turn tells metrics and budgets; every hook is optional. */
export interface TurnObserver {
  /** A model answered (tokens are added to the tenant's day here). */
  modelAnswered?(event: {
    tenantId: string;
    assistant: string;
    variant: string;
    model: string;
    promptTokens: number;
    completionTokens: number;
  }): void | Promise<void>;
  /** `from` was unavailable; the next backend is asked. */
  modelFellBack?(from: ModelBackend, error: unknown): void;
  /** A turn (or the rounds after a Confirm) that called the model ended, however it ended. */
  turnEnded?(event: TurnUsageRow): void | Promise<void>;
}
