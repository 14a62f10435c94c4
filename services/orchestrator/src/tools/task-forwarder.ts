import { TaskService } from '@toolmesh/proto';
import {
  Code,
  createClientPool,
  type HandlerContext,
  publicError,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';
import type { ExecutionLedger } from '../store/index.ts';

// The verified user travels in these headers from the gateway, and on to the tool
// service that runs the task (TaskService messages carry no principal).
const userHeader = 'x-toolmesh-user-id';
const tenantHeader = 'x-toolmesh-tenant-id';

/**
 * TaskService of the orchestrator: finds, in the execution ledger, which tool
 * service started a task and for whom, and forwards the call there. A task of
 * another user is NOT_FOUND, the same as a missing one.
 */
export function createTaskForwarder(ledger: ExecutionLedger): ServiceRegistration {
  const clientFor = createClientPool(TaskService);
  const route = async (taskId: string, ctx: HandlerContext) => {
    const userId = ctx.requestHeader.get(userHeader);
    if (!userId) throw publicError(Code.Unauthenticated, 'no verified user');
    if (!/^task_[0-9a-f]{32}$/.test(taskId)) throw publicError(Code.InvalidArgument, 'malformed task_id');
    const task = await ledger.findTask(taskId);
    if (!task || task.userId !== userId) throw publicError(Code.NotFound, 'task not found');
    const headers = { [userHeader]: userId, [tenantHeader]: ctx.requestHeader.get(tenantHeader) ?? '' };
    return { client: clientFor(task.toolAddress), headers };
  };
  return serviceRegistration(TaskService, {
    async getTask(req, ctx) {
      const { client, headers } = await route(req.taskId, ctx);
      return client.getTask(req, { headers, signal: ctx.signal, timeoutMs: ctx.timeoutMs() ?? 10_000 });
    },
    async *watchTask(req, ctx) {
      const { client, headers } = await route(req.taskId, ctx);
      yield* client.watchTask(req, { headers, signal: ctx.signal, timeoutMs: ctx.timeoutMs() });
    },
  });
}
