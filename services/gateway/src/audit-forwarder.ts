import type { Client } from '@connectrpc/connect';
import { AuditService, type Principal } from '@toolmesh/proto';
import { Code, publicError, type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/** Permission needed to read the audit log. */
export const auditPermission = 'audit:read';

/** The public AuditService: operators with "audit:read" read the orchestrator's audit log. */
export function createAuditForwarder(audit: Client<typeof AuditService>): ServiceRegistration {
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
        .listAuditRecords(req, { timeoutMs: ctx.timeoutMs() ?? 10_000, signal: ctx.signal })
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
    },
  });
}
