import type { Client } from '@connectrpc/connect';
import { AuditService, type Principal } from '@toolmesh/proto';
import { Code, publicError, type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';
import type { ForwardAsCaller } from './forward-as-caller.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/** Permission needed to read the audit log. */
export const auditPermission = 'audit:read';

/**
 * The public AuditService: operators with "audit:read" read the orchestrator's audit log, which
 * checks again and scopes the records to the operator's tenant.
 */
export function createAuditForwarder(
  audit: Client<typeof AuditService>,
  forwardAsCaller: ForwardAsCaller,
): ServiceRegistration {
  return serviceRegistration(AuditService, {
    async listAuditRecords(req, ctx) {
      const principal = ctx.values.get(principalKey) as Principal;
      if (!principal.permissions.includes(auditPermission)) {
        throw publicError(
          Code.PermissionDenied,
          `reading the audit log needs the permission ${auditPermission}`,
        );
      }
      return audit
        .listAuditRecords(req, { ...(await forwardAsCaller(ctx)), timeoutMs: ctx.timeoutMs() ?? 10_000 })
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
  });
}
