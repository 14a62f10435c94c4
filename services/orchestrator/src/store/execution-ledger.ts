import { randomUUID } from 'node:crypto';
import type { Clock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import type { Owner } from '../core-types.ts';
import { ownerIsDead } from './replica-registry.ts';
import { nowAt, nowMinus, sqlTime } from './sql-time.ts';
import { sharedWriteBatcher, statementKind, type WriteBatcher, type WriteKind } from './write-batcher.ts';

/** What is known about a tool execution when it starts. */
export interface ExecutionStart {
  requestId: string;
  conversationId: string;
  toolCallId: string;
  toolName: string;
  userId: string;
  tenantId: string;
  sideEffect: 'read' | 'write';
  idempotencyKey: string;
  toolAddress: string;
  actionId?: string;
  /** Masked arguments, for the audit record. */
  maskedArgumentsJson: string;
  /** The user who approved a write. */
  approver?: string;
  /** The tool version that ran (a rollout's audit trail); empty or absent: unversioned. */
  toolVersion?: string;
}

/** How it ended. */
export interface ExecutionEnd {
  success: boolean;
  /** "OK" or an error taxonomy code. */
  resultCode: string;
  durationMs: number;
  cached: boolean;
  /** For async tools: the task the tool service started. */
  taskId?: string;
  /**
   * The call was cut off (its caller went away) after it left: whether it ran is not known.
   * Stored as `unknown` at once, so reconciliation does not wait for this replica to die.
   */
  unknown?: boolean;
}

/** An async tool's task, as the ledger knows it. */
export interface StartedTask {
  executionId: string;
  taskId: string;
  toolName: string;
  toolAddress: string;
}

/** Where a task lives and whose it is. */
export interface TaskLocation {
  toolAddress: string;
  /** The tool that started it: a credential to read the task is issued for that tool. */
  toolName: string;
  tenantId: string;
  userId: string;
}

/** A write that was running when its orchestrator died. */
export interface InterruptedExecution {
  executionId: string;
  conversationId: string;
  toolCallId: string;
  toolName: string;
  sideEffect: 'read' | 'write';
  actionId: string | null;
}

/**
 * The execution ledger and the audit log. A write is recorded as running before the
 * call leaves and finished after, so a crash leaves a trace that reconciliation
 * resolves; a read is recorded when it ends. The audit record (masked) is written
 * when an execution ends. Rows go through group commit (see WriteBatcher): each
 * promise settles once its rows are committed.
 */
export interface ExecutionLedger {
  /** This process's id in the ledger; rows of other (dead) owners get reconciled. */
  readonly owner: string;
  /**
   * Records the execution as running before the call leaves; the returned function
   * marks it finished and writes its audit record, in one statement.
   */
  start(execution: ExecutionStart): Promise<(end: ExecutionEnd) => Promise<void>>;
  /**
   * Records a finished execution that needed no running row — a read answered from
   * the cache, or a read after its call (running a read again after a crash is safe,
   * so nothing has to be known before it leaves) — with its audit record, in one
   * statement.
   */
  record(execution: ExecutionStart, end: ExecutionEnd): Promise<void>;
  /**
   * Marks running rows older than `staleMs` of other owners that are not alive (see
   * ReplicaRegistry) as unknown and returns them. One statement: when several replicas
   * run it at once, each row is marked, and returned, by exactly one of them.
   */
  markStaleAsUnknown(staleMs: number): Promise<InterruptedExecution[]>;
  /** Resolves an unknown row once reconciliation knows the outcome. */
  resolve(executionId: string, end: Pick<ExecutionEnd, 'success' | 'resultCode'>): Promise<void>;
  /**
   * Tasks `owner` started in a conversation whose outcome the conversation has not
   * been told yet.
   */
  unreportedTasks(conversationId: string, owner: Owner): Promise<StartedTask[]>;
  /**
   * Marks the task's outcome told; false when another turn (of any replica) told it
   * first, so each task is reported once.
   */
  markTaskReported(executionId: string): Promise<boolean>;
  /**
   * The task if it belongs to `owner` (tenant and user); a task of anyone else answers
   * undefined, exactly like a missing one, so callers cannot tell them apart.
   */
  findOwnedTask(taskId: string, owner: Owner): Promise<TaskLocation | undefined>;
}

// $1…$12 of an insert into tool_executions, in executionValues' order.
const executionColumns = `execution_id, owner, request_id, conversation_id, tool_call_id, tool_name, user_id,
  side_effect, idempotency_key, action_id, tool_address, tenant_id`;

const executionValues = (executionId: string, owner: string, e: ExecutionStart) => [
  executionId,
  owner,
  e.requestId,
  e.conversationId,
  e.toolCallId,
  e.toolName,
  e.userId,
  e.sideEffect,
  e.idempotencyKey,
  e.actionId ?? null,
  e.toolAddress,
  e.tenantId,
];

// The audit record of a finished execution, from twelve parameters starting at $first. The
// assistant and variant are the conversation's (sticky for its life), so every path that
// executes a tool — a turn, an approval, reconciliation — records them alike.
const auditInsert = (first: number) => {
  const types = [
    'text',
    'text',
    'text',
    'uuid',
    'text',
    'text',
    'text',
    'text',
    'integer',
    'text',
    'boolean',
    'text',
  ];
  const params = types.map((type, i) => `$${first + i}::${type}`).join(', ');
  return `INSERT INTO orchestrator.audit_log
      (request_id, user_id, tenant_id, conversation_id, tool_call_id, tool_name, arguments_json,
       result_code, duration_ms, approver, cached, tool_version, assistant, variant)
    SELECT ${params}, c.assistant, c.variant
      FROM (SELECT 1) one
      LEFT JOIN orchestrator.conversations c ON c.conversation_id = $${first + 3}::uuid`;
};

const auditValues = (e: ExecutionStart, end: ExecutionEnd) => [
  e.requestId,
  e.userId,
  e.tenantId,
  e.conversationId,
  e.toolCallId,
  e.toolName,
  e.maskedArgumentsJson,
  end.resultCode,
  Math.round(end.durationMs),
  e.approver ?? '',
  end.cached,
  e.toolVersion ?? '',
];

const finalStatus = (end: ExecutionEnd) => (end.unknown ? 'unknown' : end.success ? 'done' : 'failed');

interface RecordRow {
  executionId: string;
  owner: string;
  execution: ExecutionStart;
  end: ExecutionEnd;
}

// Finished executions of one flush (reads, and answers from the cache): their ledger
// rows and audit records in one statement, audit records in the order they were written.
const recordKind: WriteKind<RecordRow> = {
  name: 'ledger.record',
  order: 40,
  async run(db, rows) {
    const column = <T>(f: (r: RecordRow) => T) => rows.map(f);
    await db.query(
      `WITH r AS (
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[],
                              $7::text[], $8::text[], $9::text[], $10::uuid[], $11::text[], $12::text[],
                              $13::text[], $14::text[], $15::text[], $16::text[], $17::integer[],
                              $18::text[], $19::boolean[], $20::text[]) WITH ORDINALITY
           AS r(execution_id, owner, request_id, conversation_id, tool_call_id, tool_name, user_id,
                side_effect, idempotency_key, action_id, tool_address, tenant_id, status, result_code,
                task_id, arguments_json, duration_ms, approver, cached, tool_version, ord)),
       recorded AS (
         INSERT INTO orchestrator.tool_executions
           (${executionColumns}, status, result_code, task_id, finished_at)
         SELECT execution_id, owner, request_id, conversation_id, tool_call_id, tool_name, user_id,
                side_effect, idempotency_key, action_id, tool_address, tenant_id, status, result_code,
                task_id, now()
           FROM r)
       INSERT INTO orchestrator.audit_log
         (request_id, user_id, tenant_id, conversation_id, tool_call_id, tool_name, arguments_json,
          result_code, duration_ms, approver, cached, tool_version, assistant, variant)
       SELECT r.request_id, r.user_id, r.tenant_id, r.conversation_id, r.tool_call_id, r.tool_name,
              r.arguments_json, r.result_code, r.duration_ms, r.approver, r.cached, r.tool_version,
              c.assistant, c.variant
         FROM r LEFT JOIN orchestrator.conversations c ON c.conversation_id = r.conversation_id
        ORDER BY r.ord`,
      [
        column((r) => r.executionId),
        column((r) => r.owner),
        column((r) => r.execution.requestId),
        column((r) => r.execution.conversationId),
        column((r) => r.execution.toolCallId),
        column((r) => r.execution.toolName),
        column((r) => r.execution.userId),
        column((r) => r.execution.sideEffect),
        column((r) => r.execution.idempotencyKey),
        column((r) => r.execution.actionId ?? null),
        column((r) => r.execution.toolAddress),
        column((r) => r.execution.tenantId),
        column((r) => finalStatus(r.end)),
        column((r) => r.end.resultCode),
        column((r) => r.end.taskId ?? null),
        column((r) => r.execution.maskedArgumentsJson),
        column((r) => Math.round(r.end.durationMs)),
        column((r) => r.execution.approver ?? ''),
        column((r) => r.end.cached),
        column((r) => r.execution.toolVersion ?? ''),
      ],
    );
    return rows.map(() => undefined);
  },
};

/** Options of {@link createExecutionLedger}. */
export interface ExecutionLedgerOptions {
  /**
   * When a running execution started, and so when it counts as stale; default the
   * database's clock (see sqlTime).
   */
  clock?: Clock;
  /** This process's id in the ledger (and the replica registry); default a random UUID. */
  owner?: string;
  /**
   * Where ledger and audit rows go, committed with other turns' writes; default the
   * batcher every store of `pool` shares.
   */
  writes?: WriteBatcher;
}

/** Creates the SQL {@link ExecutionLedger}. */
export function createExecutionLedger(pool: Pool, options: ExecutionLedgerOptions = {}): ExecutionLedger {
  const now = sqlTime(options.clock);
  const owner = options.owner ?? randomUUID();
  const writes = options.writes ?? sharedWriteBatcher(pool);
  return {
    owner,
    async start(e) {
      const executionId = randomUUID();
      // Start time by the clock staleness is judged by (markStaleAsUnknown). Committed
      // before this returns, so before the call leaves.
      await writes.write(statementKind, {
        text: `INSERT INTO orchestrator.tool_executions (${executionColumns}, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'running', ${nowAt('$13')})`,
        values: [...executionValues(executionId, owner, e), now()],
      });
      // Finished and audited together: one statement, one transaction.
      return async (end) => {
        await writes.write(statementKind, {
          text: `WITH finished AS (
             UPDATE orchestrator.tool_executions
                SET status = $2, result_code = $3, task_id = $4, finished_at = now()
              WHERE execution_id = $1)
           ${auditInsert(5)}`,
          values: [executionId, finalStatus(end), end.resultCode, end.taskId ?? null, ...auditValues(e, end)],
        });
      };
    },
    async record(execution, end) {
      await writes.write(recordKind, { executionId: randomUUID(), owner, execution, end });
    },
    async markStaleAsUnknown(staleMs) {
      const { rows } = await pool.query<{
        execution_id: string;
        conversation_id: string;
        tool_call_id: string;
        tool_name: string;
        side_effect: 'read' | 'write';
        action_id: string | null;
      }>(
        `UPDATE orchestrator.tool_executions e SET status = 'unknown'
          WHERE status = 'running' AND owner <> $1 AND created_at < ${nowMinus('$3', '$2')}
            AND ${ownerIsDead('e.owner', '$3')}
          RETURNING execution_id, conversation_id, tool_call_id, tool_name, side_effect, action_id`,
        [owner, staleMs, now()],
      );
      return rows.map((r) => ({
        executionId: r.execution_id,
        conversationId: r.conversation_id,
        toolCallId: r.tool_call_id,
        toolName: r.tool_name,
        sideEffect: r.side_effect,
        actionId: r.action_id,
      }));
    },
    async resolve(executionId, end) {
      await pool.query(
        `UPDATE orchestrator.tool_executions SET status = $2, result_code = $3, finished_at = now()
          WHERE execution_id = $1`,
        [executionId, end.success ? 'done' : 'failed', end.resultCode],
      );
    },
    async unreportedTasks(conversationId, owner) {
      const { rows } = await pool.query<{
        execution_id: string;
        task_id: string;
        tool_name: string;
        tool_address: string;
      }>(
        `SELECT execution_id, task_id, tool_name, tool_address FROM orchestrator.tool_executions
          WHERE conversation_id = $1 AND tenant_id = $2 AND user_id = $3
            AND task_id IS NOT NULL AND NOT task_reported ORDER BY created_at`,
        [conversationId, owner.tenantId, owner.userId],
      );
      return rows.map((r) => ({
        executionId: r.execution_id,
        taskId: r.task_id,
        toolName: r.tool_name,
        toolAddress: r.tool_address,
      }));
    },
    async markTaskReported(executionId) {
      const { rowCount } = await pool.query(
        `UPDATE orchestrator.tool_executions SET task_reported = true
          WHERE execution_id = $1 AND NOT task_reported`,
        [executionId],
      );
      return rowCount === 1;
    },
    async findOwnedTask(taskId, owner) {
      // By owner in the query: a task id another tenant's tool also used cannot shadow this one.
      if (!owner.tenantId || !owner.userId) return undefined;
      const { rows } = await pool.query<{
        tool_address: string;
        tool_name: string;
        tenant_id: string;
        user_id: string;
      }>(
        `SELECT tool_address, tool_name, tenant_id, user_id FROM orchestrator.tool_executions
          WHERE task_id = $1 AND tenant_id = $2 AND user_id = $3 ORDER BY created_at LIMIT 1`,
        [taskId, owner.tenantId, owner.userId],
      );
      const row = rows[0];
      return (
        row && {
          toolAddress: row.tool_address,
          toolName: row.tool_name,
          tenantId: row.tenant_id,
          userId: row.user_id,
        }
      );
    },
  };
}
