import { type Clock, systemClock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import type { ToolErrorName } from '@toolmesh/rpc';
import { type TaskEvents, taskEvents } from './task-events.ts';
import { newTaskId, type TaskRecord, type TaskRow, tasksTable, toTaskRecord } from './task-record.ts';
import { ToolFailure } from './tool-failure.ts';

/** Where a service keeps its tasks: its pool and its own schema (migrated with `taskMigrations`). */
export interface TaskStoreOptions {
  pool: Pool;
  schema: string;
  /**
   * The time leases, retry delays and timestamps are computed from (default the system
   * clock). It is sent to SQL as a parameter instead of the database's now(), so a
   * manual clock decides when a lease lapses or a retry falls due.
   */
  clock?: Clock;
}

/** What it takes to enqueue a task. */
export interface EnqueueTaskInput {
  toolName: string;
  principal: { userId: string; tenantId: string; permissions: string[] };
  /** The validated arguments, as JSON. */
  argumentsJson: string;
  /** The InvokeTool idempotency key: the same key returns the same task instead of a second one. */
  idempotencyKey?: string;
  /** Default 3. */
  maxAttempts?: number;
}

/** The owner a caller claims to be; a task of anyone else is invisible. */
export interface TaskOwner {
  userId: string;
  tenantId: string;
}

/** How an attempt failed. */
export interface TaskFailure {
  code: ToolErrorName;
  message: string;
  /** Run again after this delay if attempts are left; undefined fails the task now. */
  retryAfterMs?: number;
}

/**
 * The task table as a durable queue. Every write of a running task is fenced by
 * its attempt number: a worker whose lease ran out (and whose task was claimed
 * again) can no longer change it.
 */
export interface TaskStore {
  readonly events: TaskEvents;
  enqueue(input: EnqueueTaskInput): Promise<TaskRecord>;
  get(taskId: string, owner: TaskOwner): Promise<TaskRecord | undefined>;
  /** Claims the next due task of these tools (queued, or running with a lapsed lease). */
  claim(toolNames: string[], leaseMs: number): Promise<TaskRecord | undefined>;
  /** Extends the lease; false when the attempt is no longer the task's current one. */
  renew(taskId: string, attempt: number, leaseMs: number): Promise<boolean>;
  progress(
    taskId: string,
    attempt: number,
    percent: number,
    leaseMs: number,
  ): Promise<TaskRecord | undefined>;
  succeed(taskId: string, attempt: number, resultJson: string): Promise<TaskRecord | undefined>;
  fail(taskId: string, attempt: number, failure: TaskFailure): Promise<TaskRecord | undefined>;
  /** Fails running tasks whose lease lapsed on their last attempt: nobody will run them again. */
  expire(toolNames: string[]): Promise<TaskRecord[]>;
}

/** Creates the task store of a service's schema. */
export function createTaskStore(options: TaskStoreOptions): TaskStore {
  const { pool, schema } = options;
  const clock = options.clock ?? systemClock;
  const table = tasksTable(schema);
  const events = taskEvents(pool, schema);
  const ms = (param: string) => `(${param}::double precision * interval '1 millisecond')`;
  // $4 is "now" in every statement that uses these.
  const touched = 'revision = revision + 1, updated_at = $4::timestamptz';
  const mine = 'task_id = $1 AND attempts = $2 AND status = $3';
  const now = () => new Date(clock.now());

  async function one(text: string, values: unknown[]): Promise<TaskRecord | undefined> {
    const { rows } = await pool.query<TaskRow>(text, values);
    const record = rows[0] ? toTaskRecord(rows[0]) : undefined;
    if (record) events.changed(record);
    return record;
  }

  return {
    events,
    async enqueue(input) {
      const key = input.idempotencyKey || null;
      const { userId, tenantId, permissions } = input.principal;
      const inserted = await one(
        `INSERT INTO ${table}
           (task_id, tool_name, user_id, tenant_id, permissions, arguments_json, idempotency_key, max_attempts,
            run_after, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9)
         ON CONFLICT (tenant_id, user_id, tool_name, idempotency_key) WHERE idempotency_key IS NOT NULL
         DO NOTHING
         RETURNING *`,
        [
          newTaskId(),
          input.toolName,
          userId,
          tenantId,
          permissions,
          input.argumentsJson,
          key,
          input.maxAttempts ?? 3,
          now(),
        ],
      );
      if (inserted) {
        events.enqueued();
        return inserted;
      }
      // A retried InvokeTool (same key) gets the task its first try created.
      const { rows } = await pool.query<TaskRow>(
        `SELECT * FROM ${table}
          WHERE tenant_id = $1 AND user_id = $2 AND tool_name = $3 AND idempotency_key = $4`,
        [tenantId, userId, input.toolName, key],
      );
      const existing = rows[0];
      if (!existing) throw new Error('task vanished after an idempotency conflict');
      if (existing.arguments_json !== input.argumentsJson) {
        throw new ToolFailure('CONFLICT', 'the idempotency key was already used with other arguments');
      }
      return toTaskRecord(existing);
    },
    async get(taskId, owner) {
      const { rows } = await pool.query<TaskRow>(
        `SELECT * FROM ${table} WHERE task_id = $1 AND user_id = $2 AND tenant_id = $3`,
        [taskId, owner.userId, owner.tenantId],
      );
      return rows[0] ? toTaskRecord(rows[0]) : undefined;
    },
    claim(toolNames, leaseMs) {
      // SKIP LOCKED: concurrent claimers pass over a row another one is taking
      // instead of waiting for it, and the row lock makes each claim exclusive.
      return one(
        `UPDATE ${table} t
            SET status = 'running', attempts = t.attempts + 1, locked_until = $3::timestamptz + ${ms('$2')},
                progress_percent = 0, revision = t.revision + 1, updated_at = $3::timestamptz
          WHERE t.task_id = (
            SELECT task_id FROM ${table}
             WHERE tool_name = ANY($1::text[])
               AND ((status = 'queued' AND run_after <= $3::timestamptz)
                 OR (status = 'running' AND locked_until < $3::timestamptz AND attempts < max_attempts))
             ORDER BY run_after
             LIMIT 1
             FOR UPDATE SKIP LOCKED)
          RETURNING t.*`,
        [toolNames, leaseMs, now()],
      );
    },
    async renew(taskId, attempt, leaseMs) {
      const { rowCount } = await pool.query(
        `UPDATE ${table} SET locked_until = $4::timestamptz + ${ms('$5')} WHERE ${mine}`,
        [taskId, attempt, 'running', now(), leaseMs],
      );
      return rowCount === 1;
    },
    progress(taskId, attempt, percent, leaseMs) {
      return one(
        `UPDATE ${table} SET progress_percent = $5, locked_until = $4::timestamptz + ${ms('$6')}, ${touched}
          WHERE ${mine} RETURNING *`,
        [taskId, attempt, 'running', now(), percent, leaseMs],
      );
    },
    succeed(taskId, attempt, resultJson) {
      return one(
        `UPDATE ${table}
            SET status = 'succeeded', progress_percent = 100, result_json = $5, error_code = NULL,
                error_message = NULL, locked_until = NULL, ${touched}
          WHERE ${mine} RETURNING *`,
        [taskId, attempt, 'running', now(), resultJson],
      );
    },
    fail(taskId, attempt, failure) {
      const retry = failure.retryAfterMs !== undefined;
      return one(
        `UPDATE ${table}
            SET status = CASE WHEN $7::boolean AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                run_after = CASE WHEN $7::boolean AND attempts < max_attempts
                                 THEN $4::timestamptz + ${ms('$8')} ELSE run_after END,
                error_code = $5, error_message = $6, locked_until = NULL, ${touched}
          WHERE ${mine} RETURNING *`,
        [taskId, attempt, 'running', now(), failure.code, failure.message, retry, failure.retryAfterMs ?? 0],
      );
    },
    async expire(toolNames) {
      const { rows } = await pool.query<TaskRow>(
        `UPDATE ${table}
            SET status = 'failed', error_code = 'TIMEOUT',
                error_message = 'the task stopped responding on its last attempt',
                locked_until = NULL, revision = revision + 1, updated_at = $2::timestamptz
          WHERE tool_name = ANY($1::text[]) AND status = 'running'
            AND locked_until < $2::timestamptz AND attempts >= max_attempts
          RETURNING *`,
        [toolNames, now()],
      );
      const records = rows.map(toTaskRecord);
      for (const r of records) events.changed(r);
      return records;
    },
  };
}
