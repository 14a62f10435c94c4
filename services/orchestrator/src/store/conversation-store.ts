import { randomUUID } from 'node:crypto';
import type { Clock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import type { Principal } from '@toolmesh/proto';
import type { ModelToolCall, Owner, StoredMessage } from '../core-types.ts';
import { nowAt, nowPlus, sqlTime } from './sql-time.ts';
import { sharedWriteBatcher, type WriteBatcher, type WriteKind } from './write-batcher.ts';

/** Who holds a conversation while a turn runs: a lease under a random token. */
export interface ConversationLease {
  leaseMs: number;
  token: string;
}

/** The assistant a conversation runs with, fixed when it starts. */
export interface ConversationAssistant {
  assistant: string;
  variant: string;
}

/** What a new conversation is created with besides its first messages. */
export interface NewConversation {
  /** Its id, when chosen beforehand (the variant is drawn from it); default a random UUID. */
  conversationId?: string;
  assistant?: ConversationAssistant;
}

/**
 * Conversations and their messages in SQL, so any replica can continue any
 * conversation. Creations, appends and releases go through group commit (see
 * WriteBatcher): each settles once committed.
 */
export interface ConversationStore {
  /**
   * Creates a conversation already held under `lease`, with its first messages, in
   * one transaction (a group-commit flush): no other turn can know it before this
   * one answers. Returns its id and the messages as {@link load} will read them back.
   */
  createHeld(
    principal: Principal,
    lease: ConversationLease,
    messages: StoredMessage[],
    options?: NewConversation,
  ): Promise<{ conversationId: string; messages: StoredMessage[] }>;
  /**
   * The assistant and variant the conversation started with; undefined for a
   * conversation from before assistants (it takes the default).
   */
  assistantOf(conversationId: string): Promise<ConversationAssistant | undefined>;
  /**
   * Gives a conversation from before assistants the assistant of its first turn since,
   * which it keeps from then on; one that has an assistant keeps it.
   */
  adoptAssistant(conversationId: string, assistant: ConversationAssistant): Promise<void>;
  /**
   * Claims the owner's conversation for one turn with a lease (ownership and lease in
   * one statement): "not_found" when it is not this (tenant, user)'s — the same answer
   * as for no conversation at all — "busy" while another turn holds it. A holder that
   * dies loses the lease when it runs out.
   */
  acquireOwned(
    conversationId: string,
    owner: Owner,
    lease: ConversationLease,
  ): Promise<'acquired' | 'busy' | 'not_found'>;
  /** {@link acquireOwned} without the ownership check, for decisions on actions already checked. */
  tryAcquire(conversationId: string, leaseMs: number, token: string): Promise<boolean>;
  /**
   * Renews the lease of the current holder; false when `token` no longer holds it (it
   * ran out and another turn, at any replica, took the conversation).
   */
  renew(conversationId: string, leaseMs: number, token: string): Promise<boolean>;
  release(conversationId: string, token: string): Promise<void>;
  /**
   * Appends the messages in order, in one statement (shared with other turns' appends
   * of the same flush), and returns them as {@link load} will read them back, so a
   * turn can keep its history in memory.
   */
  append(conversationId: string, messages: StoredMessage[]): Promise<StoredMessage[]>;
  load(conversationId: string): Promise<StoredMessage[]>;
}

// Server notes are stored under the role 'system' (the name they had when the model
// read them that way); in memory they are notes, which the prompt renders as data.
const storedRole = (role: StoredMessage['role']) => (role === 'note' ? 'system' : role);

// Text from the model or a tool may carry NUL, which Postgres text cannot store.
const storable = (text: string | null) => (text === null ? null : text.replaceAll('\u0000', '\ufffd'));

interface MessageRow {
  role: 'user' | 'assistant' | 'tool' | 'system';
  content: string | null;
  tool_calls: ModelToolCall[] | null;
  tool_call_id: string | null;
}

/** Messages as {@link ConversationStore.load} reads them back (what append answers). */
export const asStoredMessages = (messages: StoredMessage[]): StoredMessage[] => messages.map(asStored);

/** A message as {@link ConversationStore.load} reads it back. */
function asStored(m: StoredMessage): StoredMessage {
  if (m.role === 'assistant') {
    return {
      role: 'assistant',
      content: storable(m.content),
      toolCalls: m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })),
    };
  }
  if (m.role === 'tool')
    return { role: 'tool', toolCallId: m.toolCallId, content: storable(m.content) ?? '' };
  return { role: m.role, content: storable(m.content) ?? '' };
}

// The messages as four parallel arrays, inserted in order by unnest … WITH ORDINALITY.
function columns(messages: StoredMessage[]) {
  return [
    messages.map((m) => storedRole(m.role)),
    messages.map((m) => storable(m.content)),
    messages.map((m) => (m.role === 'assistant' && m.toolCalls.length ? JSON.stringify(m.toolCalls) : null)),
    messages.map((m) => (m.role === 'tool' ? m.toolCallId : null)),
  ];
}

// Lease times are the database's (one clock for every replica) unless a test's manual
// clock is given (see sqlTime).
const leaseUntil = (now: string, leaseMs: string) => nowPlus(now, leaseMs);

interface CreateRow {
  id: string;
  userId: string;
  tenantId: string;
  leaseMs: number;
  token: string;
  now: Date | null;
  assistant: string | null;
  variant: string | null;
}

// New conversations of one flush, each already held, in one INSERT.
const createKind: WriteKind<CreateRow> = {
  name: 'conversation.create',
  order: 10,
  async run(db, rows) {
    await db.query(
      `INSERT INTO orchestrator.conversations
         (conversation_id, user_id, tenant_id, busy_until, lock_token, assistant, variant)
       SELECT c.id, c.user_id, c.tenant_id, ${leaseUntil('c.now', 'c.lease_ms')}, c.token, c.assistant, c.variant
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::double precision[], $5::text[],
                     $6::timestamptz[], $7::text[], $8::text[])
           AS c(id, user_id, tenant_id, lease_ms, token, now, assistant, variant)`,
      [
        rows.map((r) => r.id),
        rows.map((r) => r.userId),
        rows.map((r) => r.tenantId),
        rows.map((r) => r.leaseMs),
        rows.map((r) => r.token),
        rows.map((r) => r.now),
        rows.map((r) => r.assistant),
        rows.map((r) => r.variant),
      ],
    );
    return rows.map(() => undefined);
  },
};

interface AppendRow {
  conversationId: string;
  messages: StoredMessage[];
}

// The messages of every append of one flush in one INSERT: each conversation's
// continue after its last stored one, in the order they were appended.
const appendKind: WriteKind<AppendRow> = {
  name: 'conversation.append',
  order: 20,
  async run(db, rows) {
    const flat = rows.flatMap((r) => r.messages.map((m) => ({ id: r.conversationId, m })));
    const [roles, contents, toolCalls, toolCallIds] = columns(flat.map((f) => f.m));
    await db.query(
      `INSERT INTO orchestrator.messages (conversation_id, seq, role, content, tool_calls, tool_call_id)
       SELECT m.conversation_id,
              coalesce((SELECT max(seq) FROM orchestrator.messages x WHERE x.conversation_id = m.conversation_id), 0)
                + row_number() OVER (PARTITION BY m.conversation_id ORDER BY m.ord),
              m.role, m.content, m.tool_calls::jsonb, m.tool_call_id
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY
           AS m(conversation_id, role, content, tool_calls, tool_call_id, ord)`,
      [flat.map((f) => f.id), roles, contents, toolCalls, toolCallIds],
    );
    return rows.map(() => undefined);
  },
};

// Leases given back in one flush, in one UPDATE; each only by its own token.
const releaseKind: WriteKind<{ conversationId: string; token: string }> = {
  name: 'conversation.release',
  order: 30,
  async run(db, rows) {
    await db.query(
      `UPDATE orchestrator.conversations c SET busy_until = NULL, lock_token = NULL
         FROM unnest($1::uuid[], $2::text[]) AS r(id, token)
        WHERE c.conversation_id = r.id AND c.lock_token = r.token`,
      [rows.map((r) => r.conversationId), rows.map((r) => r.token)],
    );
    return rows.map(() => undefined);
  },
};

/** Options of {@link createConversationStore}. */
export interface ConversationStoreOptions {
  /** A test's manual clock for the lease times; default the database's clock (see sqlTime). */
  clock?: Clock;
  /**
   * Where creations, appends and releases go, committed with other turns' writes;
   * default the batcher every store of `pool` shares.
   */
  writes?: WriteBatcher;
}

/** Creates the SQL-backed {@link ConversationStore}. */
export function createConversationStore(
  pool: Pool,
  options: ConversationStoreOptions = {},
): ConversationStore {
  const now = sqlTime(options.clock);
  const writes = options.writes ?? sharedWriteBatcher(pool);
  return {
    async createHeld(principal, lease, messages, options = {}) {
      const id = options.conversationId ?? randomUUID();
      // Two rows of one flush: the conversation, then its messages (the kinds' order).
      await Promise.all([
        writes.write(createKind, {
          id,
          userId: principal.userId,
          tenantId: principal.tenantId,
          leaseMs: lease.leaseMs,
          token: lease.token,
          now: now(),
          assistant: options.assistant?.assistant ?? null,
          variant: options.assistant?.variant ?? null,
        }),
        messages.length ? writes.write(appendKind, { conversationId: id, messages }) : undefined,
      ]);
      return { conversationId: id, messages: messages.map(asStored) };
    },
    async adoptAssistant(conversationId, assistant) {
      await pool.query(
        `UPDATE orchestrator.conversations SET assistant = $2, variant = $3
          WHERE conversation_id = $1 AND assistant IS NULL`,
        [conversationId, assistant.assistant, assistant.variant],
      );
    },
    async assistantOf(conversationId) {
      const { rows } = await pool.query<{ assistant: string | null; variant: string | null }>(
        'SELECT assistant, variant FROM orchestrator.conversations WHERE conversation_id = $1',
        [conversationId],
      );
      const row = rows[0];
      if (!row?.assistant) return undefined;
      return { assistant: row.assistant, variant: row.variant ?? '' };
    },
    async acquireOwned(conversationId, owner, lease) {
      // An empty tenant or user owns nothing (see isOwnedBy).
      if (!owner.tenantId || !owner.userId) return 'not_found';
      const { rowCount } = await pool.query(
        `UPDATE orchestrator.conversations
            SET busy_until = ${leaseUntil('$5', '$3')}, lock_token = $4, updated_at = now()
          WHERE conversation_id = $1 AND tenant_id = $6 AND user_id = $2
            AND (busy_until IS NULL OR busy_until < ${nowAt('$5')})`,
        [conversationId, owner.userId, lease.leaseMs, lease.token, now(), owner.tenantId],
      );
      if (rowCount === 1) return 'acquired';
      // Only a refusal pays a second statement, to say which refusal it is.
      const owned = await pool.query(
        `SELECT 1 FROM orchestrator.conversations
          WHERE conversation_id = $1 AND tenant_id = $2 AND user_id = $3`,
        [conversationId, owner.tenantId, owner.userId],
      );
      return owned.rowCount === 1 ? 'busy' : 'not_found';
    },
    async tryAcquire(conversationId, leaseMs, token) {
      const { rowCount } = await pool.query(
        `UPDATE orchestrator.conversations
            SET busy_until = ${leaseUntil('$4', '$2')}, lock_token = $3, updated_at = now()
          WHERE conversation_id = $1 AND (busy_until IS NULL OR busy_until < ${nowAt('$4')})`,
        [conversationId, leaseMs, token, now()],
      );
      return rowCount === 1;
    },
    async renew(conversationId, leaseMs, token) {
      const { rowCount } = await pool.query(
        `UPDATE orchestrator.conversations SET busy_until = ${leaseUntil('$4', '$2')}
          WHERE conversation_id = $1 AND lock_token = $3`,
        [conversationId, leaseMs, token, now()],
      );
      return rowCount === 1;
    },
    async release(conversationId, token) {
      await writes.write(releaseKind, { conversationId, token });
    },
    async append(conversationId, messages) {
      if (!messages.length) return [];
      await writes.write(appendKind, { conversationId, messages });
      return messages.map(asStored);
    },
    async load(conversationId) {
      const { rows } = await pool.query<MessageRow>(
        `SELECT role, content, tool_calls, tool_call_id FROM orchestrator.messages
          WHERE conversation_id = $1 ORDER BY seq`,
        [conversationId],
      );
      return rows.map((r): StoredMessage => {
        if (r.role === 'user') return { role: 'user', content: r.content ?? '' };
        if (r.role === 'system') return { role: 'note', content: r.content ?? '' };
        if (r.role === 'tool')
          return { role: 'tool', toolCallId: r.tool_call_id ?? '', content: r.content ?? '' };
        return { role: 'assistant', content: r.content, toolCalls: r.tool_calls ?? [] };
      });
    },
  };
}
