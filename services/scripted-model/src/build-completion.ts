import type { PlannedTurn } from './plan-turn.ts';

/** Token counts of one completion. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What every completion object and chunk of one answer shares. */
export interface CompletionMeta {
  /** chatcmpl-… */
  id: string;
  /** Unix seconds. */
  created: number;
  model: string;
}

// The tool calls of a turn in the wire shape of an assistant message.
function wireToolCalls(turn: PlannedTurn) {
  return turn.toolCalls.map((call) => ({
    id: call.id,
    type: 'function' as const,
    function: { name: call.name, arguments: call.arguments },
  }));
}

/** A non-streaming `chat.completion` object. */
export function buildCompletion(turn: PlannedTurn, meta: CompletionMeta, usage: Usage) {
  const toolCalls = wireToolCalls(turn);
  return {
    id: meta.id,
    object: 'chat.completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          content: turn.content,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs: null,
        finish_reason: turn.finishReason,
      },
    ],
    usage,
  };
}
