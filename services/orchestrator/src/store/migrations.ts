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
  {
    version: 2,
    description: 'execution ledger, audit log, chat request idempotency, principal of pending actions',
    sql: `
      -- Every tool execution: running → done | failed | unknown (crashed while running).
      CREATE TABLE orchestrator.tool_executions (
        execution_id uuid PRIMARY KEY,
        owner text NOT NULL,
        request_id text NOT NULL,
        conversation_id uuid NOT NULL,
        tool_call_id text NOT NULL,
        tool_name text NOT NULL,
        user_id text NOT NULL,
        side_effect text NOT NULL,
        idempotency_key text NOT NULL,
        action_id uuid,
        status text NOT NULL CHECK (status IN ('running', 'done', 'failed', 'unknown')),
        result_code text,
        task_id text,
        tool_address text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      );
      CREATE INDEX tool_executions_open ON orchestrator.tool_executions (status, created_at) WHERE status = 'running';
      CREATE INDEX tool_executions_task ON orchestrator.tool_executions (task_id) WHERE task_id IS NOT NULL;
      -- Append-only, masked: what operators read.
      CREATE TABLE orchestrator.audit_log (
        audit_id bigserial PRIMARY KEY,
        request_id text NOT NULL,
        user_id text NOT NULL,
        tenant_id text NOT NULL,
        conversation_id uuid NOT NULL,
        tool_call_id text NOT NULL,
        tool_name text NOT NULL,
        arguments_json text NOT NULL,
        result_code text NOT NULL,
        duration_ms integer NOT NULL,
        trace_id text NOT NULL DEFAULT '',
        approver text NOT NULL DEFAULT '',
        cached boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX audit_log_user ON orchestrator.audit_log (user_id, audit_id DESC);
      -- A retried ChatRequest with the same idempotency key gets the first response.
      CREATE TABLE orchestrator.chat_requests (
        user_id text NOT NULL,
        idempotency_key text NOT NULL,
        request_hash text NOT NULL,
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, idempotency_key)
      );
      -- Approval executes as the user who asked, with the permissions they had then.
      ALTER TABLE orchestrator.pending_actions ADD COLUMN principal jsonb;
      ALTER TABLE orchestrator.pending_actions ADD COLUMN approver text;
      -- Which turn holds the conversation; the lease is renewed while it runs.
      ALTER TABLE orchestrator.conversations ADD COLUMN lock_token text;
    `,
  },
  {
    version: 3,
    description: 'system notes in conversations; task results delivered to their conversation',
    sql: `
      ALTER TABLE orchestrator.messages DROP CONSTRAINT messages_role_check;
      ALTER TABLE orchestrator.messages ADD CONSTRAINT messages_role_check
        CHECK (role IN ('user', 'assistant', 'tool', 'system'));
      ALTER TABLE orchestrator.tool_executions ADD COLUMN task_reported boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 4,
    description: 'tenancy: everything owned is owned by (tenant, user); masked arguments of pending actions',
    // Backfill: a row takes the tenant of its conversation, the one record that always had
    // one. What cannot be attributed gets the empty tenant, which no principal owns (the
    // ownership checks fail closed on it): it stays for the audit trail but answers no one.
    // Chat request claims still in flight cannot be attributed and are dropped; at worst
    // a retry of such a request runs its turn again, as after a failed turn.
    sql: `
      ALTER TABLE orchestrator.pending_actions ADD COLUMN tenant_id text NOT NULL DEFAULT '';
      UPDATE orchestrator.pending_actions a SET tenant_id = c.tenant_id
        FROM orchestrator.conversations c WHERE c.conversation_id = a.conversation_id;
      ALTER TABLE orchestrator.pending_actions ALTER COLUMN tenant_id DROP DEFAULT;
      -- The arguments as the user is shown them (sensitive fields masked); NULL on older rows.
      ALTER TABLE orchestrator.pending_actions ADD COLUMN masked_arguments_json text;

      ALTER TABLE orchestrator.tool_executions ADD COLUMN tenant_id text NOT NULL DEFAULT '';
      UPDATE orchestrator.tool_executions e SET tenant_id = c.tenant_id
        FROM orchestrator.conversations c WHERE c.conversation_id = e.conversation_id;
      UPDATE orchestrator.tool_executions e SET tenant_id = l.tenant_id
        FROM orchestrator.audit_log l
       WHERE e.tenant_id = '' AND l.conversation_id = e.conversation_id
         AND l.tool_call_id = e.tool_call_id AND l.user_id = e.user_id;
      ALTER TABLE orchestrator.tool_executions ALTER COLUMN tenant_id DROP DEFAULT;

      ALTER TABLE orchestrator.chat_requests ADD COLUMN tenant_id text NOT NULL DEFAULT '';
      UPDATE orchestrator.chat_requests r SET tenant_id = c.tenant_id
        FROM orchestrator.conversations c
       WHERE r.response IS NOT NULL
         AND c.conversation_id::text = r.response->>'conversationId' AND c.user_id = r.user_id;
      DELETE FROM orchestrator.chat_requests WHERE tenant_id = '' AND response IS NULL;
      ALTER TABLE orchestrator.chat_requests ALTER COLUMN tenant_id DROP DEFAULT;
      ALTER TABLE orchestrator.chat_requests DROP CONSTRAINT chat_requests_pkey;
      ALTER TABLE orchestrator.chat_requests ADD PRIMARY KEY (tenant_id, user_id, idempotency_key);

      DROP INDEX orchestrator.conversations_user;
      CREATE INDEX conversations_owner ON orchestrator.conversations (tenant_id, user_id, updated_at DESC);
      CREATE INDEX pending_actions_owner ON orchestrator.pending_actions (tenant_id, user_id, status);
      CREATE INDEX audit_log_tenant ON orchestrator.audit_log (tenant_id, audit_id DESC);
      CREATE INDEX audit_log_owner ON orchestrator.audit_log (tenant_id, user_id, audit_id DESC);
    `,
  },
  {
    version: 5,
    description:
      'assistants: the assistant and variant of a conversation and of audit records; usage per turn',
    // Conversations from before keep NULL: they take the default assistant on their next turn.
    sql: `
      ALTER TABLE orchestrator.conversations ADD COLUMN assistant text;
      ALTER TABLE orchestrator.conversations ADD COLUMN variant text;
      ALTER TABLE orchestrator.audit_log ADD COLUMN assistant text;
      ALTER TABLE orchestrator.audit_log ADD COLUMN variant text;
      -- One row per turn that called the model: what it cost, with which assistant and model.
      CREATE TABLE orchestrator.turn_usage (
        id bigserial PRIMARY KEY,
        created_at timestamptz NOT NULL,
        tenant_id text NOT NULL,
        user_id text NOT NULL,
        conversation_id uuid NOT NULL,
        assistant text NOT NULL,
        variant text NOT NULL,
        model text NOT NULL,
        prompt_tokens integer NOT NULL,
        completion_tokens integer NOT NULL,
        model_calls integer NOT NULL
      );
      CREATE INDEX turn_usage_tenant ON orchestrator.turn_usage (tenant_id, created_at);
    `,
  },
  {
    version: 6,
    description:
      "replicas: liveness of each orchestrator, one reconciler per interrupted action, takeover of a dead replica's request claims",
    sql: `
      -- Every orchestrator renews its row while it lives: what a live replica runs is never
      -- reconciled by another, and a dead one's rows are taken over once its row runs out.
      CREATE TABLE orchestrator.replicas (
        owner text PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now(),
        alive_until timestamptz NOT NULL
      );
      -- The replica reconciling an interrupted approved write, and until when its claim holds.
      ALTER TABLE orchestrator.pending_actions ADD COLUMN reconciler text;
      ALTER TABLE orchestrator.pending_actions ADD COLUMN reconcile_until timestamptz;
      CREATE INDEX pending_actions_executing ON orchestrator.pending_actions (decided_at)
        WHERE status = 'executing';
      CREATE INDEX tool_executions_action ON orchestrator.tool_executions (action_id)
        WHERE action_id IS NOT NULL;
      -- The replica running the turn of a claimed idempotency key (NULL on older rows).
      ALTER TABLE orchestrator.chat_requests ADD COLUMN owner text;
    `,
  },
  {
    version: 7,
    description: 'tool versions: which version of a tool ran, in its audit record',
    sql: `
      ALTER TABLE orchestrator.audit_log ADD COLUMN tool_version text NOT NULL DEFAULT '';
    `,
  },
];
