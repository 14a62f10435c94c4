import { randomUUID } from 'node:crypto';
import type { Pool } from '@toolmesh/db';
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

/** Conversations and their messages in SQL, so any replica can continue any conversation. */
export interface ConversationStore {
  create(principal: Principal): Promise<string>;
  /** True when the conversation exists and belongs to the user. */
  isOwnedBy(conversationId: string, userId: string): Promise<boolean>;
  /**
   * Claims the conversation for one turn with a lease; false while another turn
   * holds it. A holder that dies loses the lease when it runs out.
   */
  tryAcquire(conversationId: string, leaseMs: number, token: string): Promise<boolean>;
  /** Renews the lease of the current holder. */
  renew(conversationId: string, leaseMs: number, token: string): Promise<void>;
  release(conversationId: string, token: string): Promise<void>;
  append(conversationId: string, messages: StoredMessage[]): Promise<void>;
  load(conversationId: string): Promise<StoredMessage[]>;
}

// Text from the model or a tool may carry NUL, which Postgres text cannot store.
const storable = (text: string | null) => (text === null ? null : text.replaceAll('\u0000', '\ufffd'));

interface MessageRow {
  role: StoredMessage['role'];
  content: string | null;
  tool_calls: ModelToolCall[] | null;
  tool_call_id: string | null;
}

/** Creates the SQL-backed {@link ConversationStore}. */
export function createConversationStore(pool: Pool): ConversationStore {
  return {
    async create(principal) {
      const id = randomUUID();
      await pool.query(
        'INSERT INTO orchestrator.conversations (conversation_id, user_id, tenant_id) VALUES ($1, $2, $3)',
        [id, principal.userId, principal.tenantId],
      );
      return id;
    },
    async isOwnedBy(conversationId, userId) {
      const { rowCount } = await pool.query(
        'SELECT 1 FROM orchestrator.conversations WHERE conversation_id = $1 AND user_id = $2',
        [conversationId, userId],
      );
      return rowCount === 1;
    },
    async tryAcquire(conversationId, leaseMs, token) {
      const { rowCount } = await pool.query(
        `UPDATE orchestrator.conversations
            SET busy_until = now() + make_interval(secs => $2::double precision / 1000), lock_token = $3,
                updated_at = now()
          WHERE conversation_id = $1 AND (busy_until IS NULL OR busy_until < now())`,
        [conversationId, leaseMs, token],
      );
      return rowCount === 1;
    },
    async renew(conversationId, leaseMs, token) {
      await pool.query(
        `UPDATE orchestrator.conversations
            SET busy_until = now() + make_interval(secs => $2::double precision / 1000)
          WHERE conversation_id = $1 AND lock_token = $3`,
        [conversationId, leaseMs, token],
      );
    },
    async release(conversationId, token) {
      await pool.query(
        'UPDATE orchestrator.conversations SET busy_until = NULL, lock_token = NULL WHERE conversation_id = $1 AND lock_token = $2',
        [conversationId, token],
      );
    },
    async append(conversationId, messages) {
      for (const m of messages) {
        await pool.query(
          `INSERT INTO orchestrator.messages (conversation_id, seq, role, content, tool_calls, tool_call_id)
           SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5
             FROM orchestrator.messages WHERE conversation_id = $1`,
          [
            conversationId,
            m.role,
            storable(m.content),
            m.role === 'assistant' && m.toolCalls.length ? JSON.stringify(m.toolCalls) : null,
            m.role === 'tool' ? m.toolCallId : null,
          ],
        );
      }
    },
    async load(conversationId) {
      const { rows } = await pool.query<MessageRow>(
        `SELECT role, content, tool_calls, tool_call_id FROM orchestrator.messages
          WHERE conversation_id = $1 ORDER BY seq`,
        [conversationId],
      );
      return rows.map((r): StoredMessage => {
        if (r.role === 'user') return { role: 'user', content: r.content ?? '' };
        if (r.role === 'system') return { role: 'system', content: r.content ?? '' };
        if (r.role === 'tool')
          return { role: 'tool', toolCallId: r.tool_call_id ?? '', content: r.content ?? '' };
        return { role: 'assistant', content: r.content, toolCalls: r.tool_calls ?? [] };
      });
    },
  };
}
