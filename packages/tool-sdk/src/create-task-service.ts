import { Code, type HandlerContext } from '@connectrpc/connect';
import { type ClockTimer, systemClock } from '@toolmesh/clock';
import { TaskService } from '@toolmesh/proto';
import { publicError, requireCredential, type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import { createTaskStore, type TaskOwner, type TaskStoreOptions } from './create-task-store.ts';
import { isFinished, type TaskRecord, taskIdPattern, toTaskMessage } from './task-record.ts';

/** Options of {@link createTaskService}. */
export interface TaskServiceOptions extends TaskStoreOptions {
  /** How often WatchTask reads the task when no local update arrives (on `clock`); default 200 ms. */
  pollIntervalMs?: number;
}

// The owner is the user of the call's mesh credential, which the orchestrator issued for
// reading exactly this task: a credential for another task (or a tool call) reads nothing.
function ownerOf(ctx: HandlerContext, taskId: string): TaskOwner {
  const credential = requireCredential(ctx);
  if (credential.taskId !== taskId) {
    throw publicError(Code.Unauthenticated, 'mesh credential not issued for this task');
  }
  const { userId, tenantId } = credential.principal;
  return { userId, tenantId };
}

function checkTaskId(taskId: string) {
  if (!taskIdPattern.test(taskId)) {
    throw publicError(Code.InvalidArgument, 'task_id must be "task_" followed by 32 hex digits');
  }
}

// Another user's task answers exactly like a missing one: no existence leak.
const notFound = () => publicError(Code.NotFound, 'task not found');

/**
 * Serves toolmesh.v1.TaskService over a service's task table: GetTask, and
 * WatchTask, which streams the task on every change and ends once it is done.
 */
export function createTaskService(options: TaskServiceOptions): ServiceRegistration {
  const store = createTaskStore(options);
  const pollIntervalMs = options.pollIntervalMs ?? 200;
  const clock = options.clock ?? systemClock;

  return serviceRegistration(TaskService, {
    async getTask(req, ctx) {
      checkTaskId(req.taskId);
      const owner = ownerOf(ctx, req.taskId);
      const record = await store.get(req.taskId, owner);
      if (!record) throw notFound();
      return { task: toTaskMessage(record) };
    },
    async *watchTask(req, ctx) {
      checkTaskId(req.taskId);
      const owner = ownerOf(ctx, req.taskId);
      // Local updates arrive in order and at once; reads catch the rest (other replicas).
      const pending: TaskRecord[] = [];
      let wake: (() => void) | undefined;
      const unsubscribe = store.events.onChanged(req.taskId, (record) => {
        pending.push(record);
        wake?.();
      });
      const onAbort = () => wake?.();
      ctx.signal.addEventListener('abort', onAbort);
      try {
        let last = await store.get(req.taskId, owner);
        if (!last) throw notFound();
        yield { task: toTaskMessage(last) };
        while (!isFinished(last.status) && !ctx.signal.aborted) {
          if (pending.length === 0) {
            let timer: ClockTimer | undefined;
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = clock.setTimeout(resolve, pollIntervalMs);
            });
            timer?.cancel();
            wake = undefined;
            // The caller went away: end quietly, it is not an error.
            if (ctx.signal.aborted) return;
            if (pending.length === 0) {
              const read = await store.get(req.taskId, owner);
              if (!read) throw notFound();
              pending.push(read);
            }
          }
          const next = pending.shift();
          // Revisions order snapshots: a read that raced an update may be older.
          if (!next || next.revision <= last.revision) continue;
          last = next;
          yield { task: toTaskMessage(next) };
        }
      } finally {
        unsubscribe();
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  });
}
