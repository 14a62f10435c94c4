import { type Principal, TaskService, TaskStatus } from '@toolmesh/proto';
import { createClientPool, type GrpcClientOptions } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import type { StoredMessage } from '../core-types.ts';
import type { ExecutionLedger } from '../store/index.ts';
import type { ToolCredentials } from './tool-credentials.ts';

/** Brings the results of finished async tasks into their conversation. */
export type CollectTaskResults = (conversationId: string, principal: Principal) => Promise<StoredMessage[]>;

/**
 * Before a new turn, asks the tool services about the conversation's unreported
 * tasks of this user; each finished one becomes a server note (marked reported).
 * The note carries what a tool produced, so it is data: the prompt gives it to the
 * model as delimited user-role data, never in the system role (see buildPrompt).
 * Task id and tool name come from the ledger, not from the tool's answer.
 * Unfinished tasks are looked at again next turn; a tool service that does not
 * answer never blocks the turn. Each outcome is told once, whichever replica asks.
 */
export function createTaskResultCollector(options: {
  ledger: ExecutionLedger;
  logger: Logger;
  /** Longest result text kept in the note. */
  maxChars: number;
  /** Signs the credential that reads one task at its tool service. */
  credentials: ToolCredentials;
  /** How the clients reach tool services (TLS …). */
  clientOptions?: Omit<GrpcClientOptions, 'address'>;
}): CollectTaskResults {
  const { ledger, logger } = options;
  const clientFor = createClientPool(TaskService, { defaultTimeoutMs: 2_000, ...options.clientOptions });
  return async (conversationId, principal) => {
    const notes: StoredMessage[] = [];
    for (const started of await ledger.unreportedTasks(conversationId, principal)) {
      try {
        const headers = await options.credentials.forTask({
          principal,
          requestId: '',
          toolName: started.toolName,
          taskId: started.taskId,
        });
        const { task } = await clientFor(started.toolAddress).getTask(
          { taskId: started.taskId },
          { headers },
        );
        if (!task) continue;
        let note: string;
        if (task.status === TaskStatus.SUCCEEDED) {
          const result =
            task.resultJson.length > options.maxChars
              ? `${task.resultJson.slice(0, options.maxChars)}…[truncated]`
              : task.resultJson;
          note = `Task ${started.taskId} (${started.toolName}) finished. Result: ${result}`;
        } else if (task.status === TaskStatus.FAILED || task.status === TaskStatus.CANCELLED) {
          note = `Task ${started.taskId} (${started.toolName}) did not finish: ${(task.error?.message ?? 'failed').slice(0, 500)}.`;
        } else {
          continue;
        }
        // Marked first and noted only by the turn that marked it: of turns at several
        // replicas looking at once (one whose lease ran out among them), one tells it.
        if (await ledger.markTaskReported(started.executionId)) notes.push({ role: 'note', content: note });
      } catch (error) {
        logger.warn({ err: error, task_id: started.taskId }, 'task status unavailable; will ask next turn');
      }
    }
    return notes;
  };
}
