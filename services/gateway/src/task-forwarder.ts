import type { Client } from '@connectrpc/connect';
import { TaskService } from '@toolmesh/proto';
import { type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import type { ForwardAsCaller } from './forward-as-caller.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/**
 * The longest a WatchTask may stay open; a caller's shorter deadline wins. Without one the
 * client's default deadline would cut every watch after a few seconds.
 */
export const maxWatchMs = 60 * 60_000;

/** The public TaskService: a user follows the async tasks their tool calls started. */
export function createTaskForwarder(
  tasks: Client<typeof TaskService>,
  forwardAsCaller: ForwardAsCaller,
): ServiceRegistration {
  return serviceRegistration(TaskService, {
    async getTask(req, ctx) {
      return tasks
        .getTask(req, { ...(await forwardAsCaller(ctx)), timeoutMs: ctx.timeoutMs() ?? 10_000 })
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
    async *watchTask(req, ctx) {
      const timeoutMs = Math.min(ctx.timeoutMs() ?? maxWatchMs, maxWatchMs);
      try {
        yield* tasks.watchTask(req, { ...(await forwardAsCaller(ctx)), timeoutMs });
      } catch (error) {
        relayOrchestratorError(error, ctx);
      }
    },
  });
}
