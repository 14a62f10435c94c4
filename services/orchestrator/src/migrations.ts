import type { Migration } from '@toolmesh/db';

/** The orchestrator's own schema: conversations, their messages, and pending actions. */
export const schema = 'orchestrator';

/** Forward-only migrations of {@link schema}. */
export const migrations: Migration[] = [
  {
    version: 1,
    description: 'conversations, messages, pending actions',
    sql: `
      CREATE TABLE orchestrator.conversations (
        conversation_id uuid PRIMARY KEY,
        user_id text NOT NULL,
        tenant_id text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- A turn holds the conversation until this time; a crashed turn frees it by expiry.
        busy_until timestamptz
      );
      CREATE INDEX conversations_user ON orchestrator.conversations (user_id, updated_at DESC);
      CREATE TABLE orchestrator.messages (
        conversation_id uuid NOT NULL REFERENCES orchestrator.conversations ON DELETE CASCADE,
        seq integer NOT NULL,
        role text NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
        content text,
        tool_calls jsonb,
        tool_call_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (conversation_id, seq)
      );
      CREATE UNIQUE INDEX messages_one_result_per_call
        ON orchestrator.messages (conversation_id, tool_call_id) WHERE role = 'tool';
      CREATE TABLE orchestrator.pending_actions (
        action_id uuid PRIMARY KEY,
        conversation_id uuid NOT NULL REFERENCES orchestrator.conversations ON DELETE CASCADE,
        user_id text NOT NULL,
        tool_name text NOT NULL,
        tool_call_id text NOT NULL,
        arguments_json text NOT NULL,
        arguments_hash text NOT NULL,
        summary text NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'executing', 'executed', 'declined', 'expired', 'superseded')),
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        decided_at timestamptz,
        -- The response of the decision, answered again to a repeated Confirm.
        response jsonb
      );
      CREATE INDEX pending_actions_conversation ON orchestrator.pending_actions (conversation_id, status);
    `,
  },
];
