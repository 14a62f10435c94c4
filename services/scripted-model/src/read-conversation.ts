/** A tool call as an assistant message carries it (OpenAI Chat Completions shape). */
export interface ChatToolCall {
  id: string;
  type?: string;
  function: { name: string; arguments?: string };
}

/** One message of a chat conversation, as the planner reads it; content already flattened to text. */
export interface ChatMessage {
  /** system, developer, user, assistant or tool; anything else is ignored. */
  role: string;
  content?: string | null;
  tool_calls?: ChatToolCall[] | null;
  /** On tool messages: the call this message answers. */
  tool_call_id?: string;
  /** Legacy tool-message field naming the tool; used when no assistant call matches. */
  name?: string;
}

/** What a tool answered: a JSON object, or an error with a code (malformed content counts as an error). */
export type ToolOutcome =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; code: string; retryable: boolean };

/** The facts the planner decides on. */
export interface ConversationFacts {
  /** Text of the last user message ("" when there is none). */
  lastUserText: string;
  /** The 12-digit order id the user means, if any. */
  orderId: string | undefined;
  /** Assistant messages so far: the round of the answer being planned. */
  round: number;
  /** Latest outcome per tool name among the tool messages of the current turn. */
  results: ReadonlyMap<string, ToolOutcome>;
  /** Notes from the server about finished tasks ("Task … finished. Result: …"), oldest first. */
  taskNotes: string[];
}

const orderIdPattern = /\b\d{12}\b/;

// The orchestrator hands the model its notes (finished tasks) as user-role data between
// <server-note> delimiters, after one line saying what they are; they are not the user's words.
const serverNote = /^<server-note>\n[^\n]*\n([\s\S]*)\n<\/server-note>$/;
const noteOf = (message: ChatMessage) =>
  message.role === 'user' ? serverNote.exec(textOf(message))?.[1] : undefined;

/**
 * Reads the conversation: the current turn is everything after the last user message, so
 * results of earlier questions never leak into the answer to this one.
 */
export function readConversation(input: readonly ChatMessage[]): ConversationFacts {
  // Callers may hand over anything decoded from JSON; holes and junk are skipped, not thrown on.
  const messages = Array.isArray(input)
    ? input.filter((message): message is ChatMessage => isRecord(message))
    : [];
  const userIndexes: number[] = [];
  const toolNames = new Map<string, string>();
  let round = 0;
  messages.forEach((message, index) => {
    if (message.role === 'user' && noteOf(message) === undefined) userIndexes.push(index);
    if (message.role !== 'assistant') return;
    round += 1;
    for (const call of Array.isArray(message.tool_calls) ? message.tool_calls : []) {
      if (typeof call?.id === 'string' && typeof call.function?.name === 'string') {
        toolNames.set(call.id, call.function.name);
      }
    }
  });

  const lastUserIndex = userIndexes.at(-1) ?? -1;
  const lastUserText = lastUserIndex >= 0 ? textOf(messages[lastUserIndex]) : '';
  let orderId: string | undefined;
  for (const index of [...userIndexes].reverse()) {
    orderId = textOf(messages[index]).match(orderIdPattern)?.[0];
    if (orderId) break;
  }

  const results = new Map<string, ToolOutcome>();
  for (const message of messages.slice(lastUserIndex + 1)) {
    if (message.role !== 'tool') continue;
    const name = (message.tool_call_id && toolNames.get(message.tool_call_id)) || message.name;
    if (name) results.set(name, parseToolContent(message.content));
  }
  // Server notes; older orchestrators sent them as system messages after the system prompt.
  const taskNotes = messages
    .map((m, index) => (m.role === 'system' && index > 0 ? textOf(m) : (noteOf(m) ?? '')))
    .filter((t) => t.startsWith('Task '));
  return { lastUserText, orderId, round, results, taskNotes };
}

/** Parses a tool message's JSON content; never throws. */
export function parseToolContent(content: string | null | undefined): ToolOutcome {
  let value: unknown;
  try {
    value = JSON.parse(content ?? '');
  } catch {
    return { ok: false, code: 'MALFORMED_RESULT', retryable: false };
  }
  if (!isRecord(value)) return { ok: false, code: 'MALFORMED_RESULT', retryable: false };
  if (value.error !== undefined && value.error !== null) {
    const error = isRecord(value.error) ? value.error : {};
    const code = typeof error.code === 'string' && error.code ? error.code : 'UNKNOWN';
    return { ok: false, code, retryable: error.retryable === true };
  }
  return { ok: true, value };
}

/** True for a plain (non-array) object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function textOf(message: ChatMessage | undefined): string {
  return typeof message?.content === 'string' ? message.content : '';
}
