import type { Client } from '@connectrpc/connect';
import { UsageService } from '@toolmesh/proto';
import { type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import type { ForwardAsCaller } from './forward-as-caller.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/**
 * The public UsageService: operators read usage per tenant, assistant, variant and model. The
 * orchestrator decides who may (usage:read, usage:read:all-tenants) from the caller's credential.
 */
export function createUsageForwarder(
  usage: Client<typeof UsageService>,
  forwardAsCaller: ForwardAsCaller,
): ServiceRegistration {
  return serviceRegistration(UsageService, {
    async getUsage(req, ctx) {
      return usage
        .getUsage(req, { ...(await forwardAsCaller(ctx)), timeoutMs: ctx.timeoutMs() ?? 10_000 })
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
  });
}
