import type { Client } from '@connectrpc/connect';
import { AssistantService } from '@toolmesh/proto';
import { type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import type { ForwardAsCaller } from './forward-as-caller.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/** The public AssistantService: any authenticated caller lists the assistants of its tenant. */
export function createAssistantForwarder(
  assistants: Client<typeof AssistantService>,
  forwardAsCaller: ForwardAsCaller,
): ServiceRegistration {
  return serviceRegistration(AssistantService, {
    async listAssistants(req, ctx) {
      return assistants
        .listAssistants(req, { ...(await forwardAsCaller(ctx)), timeoutMs: ctx.timeoutMs() ?? 10_000 })
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
  });
}
