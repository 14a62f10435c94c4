import { randomBytes } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type Task, TaskSchema, TaskStatus } from '@toolmesh/proto';
import { type ToolErrorName, toolErrorCode } from '@toolmesh/rpc';

/** Lifecycle of a task: queued → running → succeeded | failed (running → queued again on a retry). */
export type TaskState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** One row of the task table. */
export interface TaskRecord {
  taskId: string;
  toolName: string;
  userId: string;
  tenantId: string;
  permissions: string[];
  argumentsJson: string;
  idempotencyKey: string | null;
  status: TaskState;
  progressPercent: number;
  resultJson: string | null;
  errorCode: ToolErrorName | null;
  errorMessage: string | null;
  attempts: number;
  maxAttempts: number;
  runAfter: Date;
  lockedUntil: Date | null;
  /** Grows by one on every change: watchers order snapshots by it. */
  revision: number;
  createdAt: Date;
  updatedAt: Date;
}

/** The row as pg returns it. */
export interface TaskRow {
  task_id: string;
  tool_name: string;
  user_id: string;
  tenant_id: string;
  permissions: string[];
  arguments_json: string;
  idempotency_key: string | null;
  status: TaskState;
  progress_percent: number;
  result_json: string | null;
  error_code: string | null;
  error_message: string | null;
  attempts: number;
  max_attempts: number;
  run_after: Date;
  locked_until: Date | null;
  revision: number;
  created_at: Date;
  updated_at: Date;
}

/** Maps a pg row to a {@link TaskRecord}. */
export function toTaskRecord(row: TaskRow): TaskRecord {
  return {
    taskId: row.task_id,
    toolName: row.tool_name,
    userId: row.user_id,
    tenantId: row.tenant_id,
    permissions: row.permissions,
    argumentsJson: row.arguments_json,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    progressPercent: row.progress_percent,
    resultJson: row.result_json,
    errorCode: row.error_code as ToolErrorName | null,
    errorMessage: row.error_message,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    runAfter: row.run_after,
    lockedUntil: row.locked_until,
    revision: row.revision,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const identifier = /^[a-z_][a-z0-9_]*$/;

/** The qualified task table of a schema; the name is checked because it is spliced into SQL. */
export function tasksTable(schema: string): string {
  if (!identifier.test(schema)) throw new Error(`invalid schema name ${schema}`);
  return `${schema}.tasks`;
}

/** Task ids: "task_" and 32 hex digits (128 random bits, so ids cannot be guessed). */
export const taskIdPattern = /^task_[0-9a-f]{32}$/;

/** A new random task id. */
export function newTaskId(): string {
  return `task_${randomBytes(16).toString('hex')}`;
}

/** True once a task will not change any more. */
export function isFinished(status: TaskState): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

const statusOf: Record<TaskState, TaskStatus> = {
  queued: TaskStatus.QUEUED,
  running: TaskStatus.RUNNING,
  succeeded: TaskStatus.SUCCEEDED,
  failed: TaskStatus.FAILED,
  cancelled: TaskStatus.CANCELLED,
};

/** The task as toolmesh.v1.Task. The error of an attempt that will be retried stays internal. */
export function toTaskMessage(record: TaskRecord): Task {
  const failed = record.status === 'failed' || record.status === 'cancelled';
  return create(TaskSchema, {
    taskId: record.taskId,
    toolName: record.toolName,
    status: statusOf[record.status],
    progressPercent: record.progressPercent,
    resultJson: record.status === 'succeeded' ? (record.resultJson ?? 'null') : '',
    error:
      failed && record.errorCode
        ? {
            code: toolErrorCode(record.errorCode),
            message: record.errorMessage ?? '',
            retryable: false,
          }
        : undefined,
    createdAt: timestampFromDate(record.createdAt),
    updatedAt: timestampFromDate(record.updatedAt),
  });
}
