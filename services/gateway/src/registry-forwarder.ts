import type { Client } from '@connectrpc/connect';
import { type OrchestratorService, type Principal, RegistryService } from '@toolmesh/proto';
import { type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/** The public RegistryService: any authenticated caller sees the tools, marked by what they may use. */
export function createRegistryForwarder(
  orchestrator: Client<typeof OrchestratorService>,
): ServiceRegistration {
  return serviceRegistration(RegistryService, {
    async listRegisteredTools(_req, ctx) {
      const principal = ctx.values.get(principalKey) as Principal;
      const { response } = await orchestrator
        .runListRegisteredTools({ principal }, { timeoutMs: ctx.timeoutMs() ?? 10_000, signal: ctx.signal })
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
      if (!response) throw new Error('orchestrator answered no registry');
      return response;
    },
  });
}
