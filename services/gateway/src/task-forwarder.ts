import type { Client } from '@connectrpc/connect';
import { type Principal, TaskService } from '@toolmesh/proto';
import { type HandlerContext, type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

// The verified user, for the orchestrator and the tool service that owns the task.
const identity = (ctx: HandlerContext) => {
  const principal = ctx.values.get(principalKey) as Principal;
  return { 'x-toolmesh-user-id': principal.userId, 'x-toolmesh-tenant-id': principal.tenantId };
};

/** The public TaskService: a user follows the async tasks their tool calls started. */
export function createTaskForwarder(tasks: Client<typeof TaskService>): ServiceRegistration {
  return serviceRegistration(TaskService, {
    getTask(req, ctx) {
      return tasks
        .getTask(req, { headers: identity(ctx), signal: ctx.signal, timeoutMs: ctx.timeoutMs() ?? 10_000 })
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
    async *watchTask(req, ctx) {
      try {
        yield* tasks.watchTask(req, {
          headers: identity(ctx),
          signal: ctx.signal,
          timeoutMs: ctx.timeoutMs(),
        });
      } catch (error) {
        relayOrchestratorError(error, ctx);
      }
    },
  });
}
