import type { Migration } from '@toolmesh/db';
import { tasksTable } from './task-record.ts';

/** First migration version used by {@link taskMigrations} unless told otherwise. */
export const taskMigrationBaseVersion = 900;

/**
 * The task table of async tools, created in the service's own schema. Add these to
 * the service's migration list. Versions start at 900 (900–999 are reserved for the
 * SDK) so they never collide with the service's own 1, 2, 3 …; pass another
 * `baseVersion` if that range is taken.
 */
export function taskMigrations(schema: string, baseVersion = taskMigrationBaseVersion): Migration[] {
  const table = tasksTable(schema);
  return [
    {
      version: baseVersion,
      description: 'tasks of async tools (durable queue)',
      sql: `
        CREATE TABLE ${table} (
          task_id text PRIMARY KEY,
          tool_name text NOT NULL,
          user_id text NOT NULL,
          tenant_id text NOT NULL,
          permissions text[] NOT NULL DEFAULT '{}',
          arguments_json text NOT NULL,
          idempotency_key text,
          status text NOT NULL DEFAULT 'queued'
            CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
          progress_percent integer NOT NULL DEFAULT 0 CHECK (progress_percent BETWEEN 0 AND 100),
          result_json text,
          error_code text,
          error_message text,
          attempts integer NOT NULL DEFAULT 0,
          max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
          run_after timestamptz NOT NULL DEFAULT now(),
          locked_until timestamptz,
          revision integer NOT NULL DEFAULT 0,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX tasks_ready_idx ON ${table} (run_after)
          WHERE status IN ('queued', 'running');
        CREATE UNIQUE INDEX tasks_idempotency_idx
          ON ${table} (tenant_id, user_id, tool_name, idempotency_key)
          WHERE idempotency_key IS NOT NULL;`,
    },
  ];
}
