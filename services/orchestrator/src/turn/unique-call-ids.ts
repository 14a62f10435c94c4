import { randomUUID } from 'node:crypto';
import type { ModelToolCall, StoredMessage } from '../core-types.ts';

/**
 * The model's tool call ids, made unique within the conversation. Models are not
 * bound to unique ids (some number their calls per response, "call_0"…), but a
 * call's result is stored under its id, once; a repeated or missing id gets a
 * fresh one, which the transcript then carries consistently.
 */
export function withUniqueCallIds(
  calls: ModelToolCall[],
  history: readonly StoredMessage[],
): ModelToolCall[] {
  const used = new Set<string>();
  for (const message of history) {
    if (message.role === 'tool') used.add(message.toolCallId);
    if (message.role === 'assistant') for (const call of message.toolCalls) used.add(call.id);
  }
  return calls.map((call) => {
    const id = call.id && !used.has(call.id) && call.id.length <= 128 ? call.id : `call_${randomUUID()}`;
    used.add(id);
    return id === call.id ? call : { ...call, id };
  });
}
