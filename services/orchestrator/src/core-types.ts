// Types every part of the orchestrator speaks: a conversation's messages, the model's
// tool calls and the read-cache port. Kept apart so the SQL store, the model client,
// the executor and the turn share them without depending on one another.
import type { Principal } from '@toolmesh/proto';

/** A tool call as the model made it. */
export interface ModelToolCall {
  id: string;
  name: string;
  /** Raw JSON text from the model: it may be malformed. */
  arguments: string;
}

/** One message of a conversation, in the shape the model API uses. */
export type StoredMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string | null; toolCalls: ModelToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string }
  /** A note from the server, e.g. the result of an async task that finished since. */
  | { role: 'system'; content: string };

/** The read cache as the executor uses it (see @toolmesh/cache). */
export interface ResultCache {
  lookup(principal: Principal, tool: string, argumentsJson: string): Promise<string | undefined>;
  store(
    principal: Principal,
    tool: string,
    argumentsJson: string,
    result: string,
    ttlMs: number,
  ): Promise<void>;
  /** A write changed what these arguments point at (e.g. an order): drop cached reads about it. */
  invalidate(principal: Principal, argumentsJson: string): Promise<void>;
}
