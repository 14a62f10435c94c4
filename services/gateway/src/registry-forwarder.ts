import type { Client } from '@connectrpc/connect';
import { RegistryService } from '@toolmesh/proto';
import { type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import type { ForwardAsCaller } from './forward-as-caller.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/** The public RegistryService: any authenticated caller sees the tools; addresses only operators. */
export function createRegistryForwarder(
  registry: Client<typeof RegistryService>,
  forwardAsCaller: ForwardAsCaller,
): ServiceRegistration {
  return serviceRegistration(RegistryService, {
    async listRegisteredTools(req, ctx) {
      return registry
        .listRegisteredTools(req, { ...(await forwardAsCaller(ctx)), timeoutMs: ctx.timeoutMs() ?? 10_000 })
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
  });
}
