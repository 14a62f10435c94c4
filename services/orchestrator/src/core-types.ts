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
  /**
   * A note from the server, e.g. the result of an async task that finished since.
   * It carries data a tool produced, so the model reads it as delimited user-role
   * data (see buildPrompt), never with the authority of the system role.
   */
  | { role: 'note'; content: string };

/**
 * Who owns something the orchestrator keeps: a user of a tenant. User ids are only
 * unique within their tenant, so every ownership check, key and query takes both.
 */
export interface Owner {
  readonly tenantId: string;
  readonly userId: string;
}

/**
 * True when `thing` belongs to `who`: same tenant and same user. An empty tenant or
 * user never owns anything (fail closed), whatever the other side holds.
 */
export function isOwnedBy(thing: Owner, who: Owner): boolean {
  return (
    who.tenantId !== '' && who.userId !== '' && thing.tenantId === who.tenantId && thing.userId === who.userId
  );
}

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
