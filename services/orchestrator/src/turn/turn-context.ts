import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ChatStreamResponseSchema, Principal, ToolExecution } from '@toolmesh/proto';

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

/** What one turn produced so far, for its response. */
export interface TurnState {
  conversationId: string;
  executions: ToolExecution[];
  usage: { promptTokens: number; completionTokens: number; modelCalls: number };
}

/** A turn that has produced nothing yet. */
export function newTurnState(conversationId: string): TurnState {
  return { conversationId, executions: [], usage: { promptTokens: 0, completionTokens: 0, modelCalls: 0 } };
}
