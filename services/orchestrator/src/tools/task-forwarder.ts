import { TaskService } from '@toolmesh/proto';
import {
  Code,
  createClientPool,
  type GrpcClientOptions,
  type HandlerContext,
  publicError,
  requireCredential,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';
import type { ExecutionLedger } from '../store/index.ts';
import type { ToolCredentials } from './tool-credentials.ts';

/** The longest a WatchTask may stay open when its caller set no deadline (the client's default would cut it). */
export const maxWatchMs = 60 * 60_000;

/** Options of {@link createTaskForwarder}. */
export interface TaskForwarderOptions {
  ledger: ExecutionLedger;
  /** Signs the credential that reads one task at its tool service. */
  credentials: ToolCredentials;
  /** How the clients reach tool services (TLS …). */
  clientOptions?: Omit<GrpcClientOptions, 'address'>;
}

/**
 * TaskService of the orchestrator: finds, in the execution ledger, which tool service started
 * a task and for whom, and forwards the call there with a credential for that task only. The
 * caller is the user of the gateway's verified credential; a task of another tenant or user is
 * NOT_FOUND, the same as a missing one.
 */
export function createTaskForwarder(options: TaskForwarderOptions): ServiceRegistration {
  const clientFor = createClientPool(TaskService, options.clientOptions);
  const route = async (taskId: string, ctx: HandlerContext) => {
    const { principal, requestId } = requireCredential(ctx);
    if (!/^task_[0-9a-f]{32}$/.test(taskId)) throw publicError(Code.InvalidArgument, 'malformed task_id');
    const task = await options.ledger.findOwnedTask(taskId, principal);
    if (!task) throw publicError(Code.NotFound, 'task not found');
    const headers = await options.credentials.forTask({
      principal,
      requestId,
      toolName: task.toolName,
      taskId,
    });
    return { client: clientFor(task.toolAddress), headers };
  };
  return serviceRegistration(TaskService, {
    async getTask(req, ctx) {
      const { client, headers } = await route(req.taskId, ctx);
      return client.getTask(req, { headers, signal: ctx.signal, timeoutMs: ctx.timeoutMs() ?? 10_000 });
    },
    async *watchTask(req, ctx) {
      const { client, headers } = await route(req.taskId, ctx);
      // A watch lasts as long as its caller wants, up to the server-side maximum.
      const timeoutMs = Math.min(ctx.timeoutMs() ?? maxWatchMs, maxWatchMs);
      yield* client.watchTask(req, { headers, signal: ctx.signal, timeoutMs });
    },
  });
}
