import type { Client } from '@connectrpc/connect';
import { ChatService } from '@toolmesh/proto';
import { type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import type { ForwardAsCaller } from './forward-as-caller.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/** Options of {@link createChatService}. */
export interface ChatServiceOptions {
  /** The orchestrator's ChatService. */
  orchestrator: Client<typeof ChatService>;
  forwardAsCaller: ForwardAsCaller;
  /** Deadline when the caller sets none. */
  defaultDeadlineMs: number;
}

/** The public ChatService: forwards each call as its verified caller, with the caller's deadline. */
export function createChatService(options: ChatServiceOptions): ServiceRegistration {
  const { orchestrator, forwardAsCaller } = options;
  const callOptions = async (ctx: Parameters<ForwardAsCaller>[0]) => ({
    ...(await forwardAsCaller(ctx)),
    timeoutMs: ctx.timeoutMs() ?? options.defaultDeadlineMs,
  });
  return serviceRegistration(ChatService, {
    async chat(req, ctx) {
      return orchestrator
        .chat(req, await callOptions(ctx))
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
    async *chatStream(req, ctx) {
      try {
        yield* orchestrator.chatStream(req, await callOptions(ctx));
      } catch (error) {
        relayOrchestratorError(error, ctx);
      }
    },
    async confirm(req, ctx) {
      return orchestrator
        .confirm(req, await callOptions(ctx))
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
  });
}
