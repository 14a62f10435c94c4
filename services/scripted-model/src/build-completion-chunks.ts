import type { CompletionMeta, Usage } from './build-completion.ts';
import type { PlannedTurn } from './plan-turn.ts';

/** Options of {@link buildCompletionChunks}. */
export interface CompletionChunksOptions {
  /** When set (stream_options.include_usage), a last chunk with no choices carries it. */
  usage?: Usage;
  /** Characters of tool-call arguments per chunk; default 16. */
  argumentsPieceLength?: number;
}

/**
 * The `chat.completion.chunk` objects of one streamed answer, in the order OpenAI sends them:
 * role, text in word-sized deltas, each tool call opened with id and name then its arguments in
 * pieces, the finish reason, and optionally usage.
 */
export function buildCompletionChunks(
  turn: PlannedTurn,
  meta: CompletionMeta,
  options: CompletionChunksOptions = {},
): object[] {
  const { usage } = options;
  const pieceLength = Math.max(1, options.argumentsPieceLength ?? 16);
  // OpenAI sends usage: null on every chunk but the last when usage was asked for.
  const chunk = (delta: object, finishReason: string | null = null) => ({
    id: meta.id,
    object: 'chat.completion.chunk',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(usage ? { usage: null } : {}),
  });

  const chunks: object[] = [chunk({ role: 'assistant', content: '' })];
  for (const piece of splitWords(turn.content ?? '')) chunks.push(chunk({ content: piece }));
  turn.toolCalls.forEach((call, index) => {
    chunks.push(
      chunk({
        tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }],
      }),
    );
    for (const piece of splitEvery(call.arguments, pieceLength)) {
      chunks.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
    }
  });
  chunks.push(chunk({}, turn.finishReason));
  if (usage) {
    chunks.push({
      id: meta.id,
      object: 'chat.completion.chunk',
      created: meta.created,
      model: meta.model,
      choices: [],
      usage,
    });
  }
  return chunks;
}

// Each piece is a word with the whitespace after it, so the pieces join back to the exact text.
function splitWords(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

// By code point, so a piece never ends inside a surrogate pair.
function splitEvery(text: string, length: number): string[] {
  const chars = Array.from(text);
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += length) pieces.push(chars.slice(i, i + length).join(''));
  return pieces;
}
