import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Pool } from '@toolmesh/db';
import { AuditService, type Principal } from '@toolmesh/proto';
import {
  Code,
  type HandlerContext,
  publicError,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';

interface AuditRow {
  audit_id: string;
  request_id: string;
  user_id: string;
  tenant_id: string;
  conversation_id: string;
  tool_call_id: string;
  tool_name: string;
  arguments_json: string;
  result_code: string;
  duration_ms: number;
  trace_id: string;
  approver: string;
  cached: boolean;
  tool_version: string;
  created_at: Date;
}

/** Reading the audit log at all. */
export const auditReadPermission = 'audit:read';
/** Reading the audit records of every tenant, not only the operator's own. */
export const auditReadAllTenantsPermission = 'audit:read:all-tenants';

/** Options of {@link createAuditService}. */
export interface AuditServiceOptions {
  /**
   * The verified principal of the call (the server's authentication has run before any
   * handler). It decides the tenant the records come from; it may throw
   * UNAUTHENTICATED when there is none.
   */
  principalOf: (ctx: HandlerContext) => Principal;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// A filter is text compared with stored ids: control characters (NUL among them, which
// Postgres text cannot hold) or an absurd length are malformed input, not an internal error.
function checkFilter(name: string, value: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (value.length > 256 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw publicError(Code.InvalidArgument, `invalid ${name}`);
  }
}

/**
 * AuditService over the audit log. The caller needs "audit:read" (checked here too,
 * not only at the gateway) and reads the records of its own tenant; the records of
 * every tenant need "audit:read:all-tenants" (the request has no tenant filter, so
 * such an operator reads them all). Pages go newest first; the page token is the
 * last record's id. Malformed filters are INVALID_ARGUMENT.
 */
export function createAuditService(pool: Pool, options: AuditServiceOptions): ServiceRegistration {
  return serviceRegistration(AuditService, {
    async listAuditRecords(req, ctx) {
      const principal = options.principalOf(ctx);
      if (!principal.permissions.includes(auditReadPermission)) {
        throw publicError(Code.PermissionDenied, 'reading the audit log needs the permission audit:read');
      }
      const allTenants = principal.permissions.includes(auditReadAllTenantsPermission);
      // Fail closed: a principal without a tenant reads nothing of anyone's.
      if (!allTenants && !principal.tenantId) throw publicError(Code.PermissionDenied, 'no tenant');
      const pageSize = req.pageSize <= 0 ? 50 : Math.min(req.pageSize, 500);
      if (req.pageToken && !/^\d{1,18}$/.test(req.pageToken)) {
        throw publicError(Code.InvalidArgument, 'invalid page_token');
      }
      if (req.conversationId && !uuid.test(req.conversationId)) {
        throw publicError(Code.InvalidArgument, 'conversation_id must be a UUID');
      }
      checkFilter('user_id', req.userId);
      checkFilter('tool_name', req.toolName);
      const { rows } = await pool.query<AuditRow>(
        `SELECT * FROM orchestrator.audit_log
          WHERE ($1 = '' OR audit_id < $1::bigint)
            AND ($2 = '' OR user_id = $2)
            AND ($3 = '' OR tool_name = $3)
            AND ($4 = '' OR conversation_id = $4::uuid)
            AND ($6::boolean OR tenant_id = $7)
          ORDER BY audit_id DESC LIMIT $5`,
        [
          req.pageToken,
          req.userId,
          req.toolName,
          req.conversationId,
          pageSize + 1,
          allTenants,
          principal.tenantId,
        ],
      );
      const page = rows.slice(0, pageSize);
      return {
        records: page.map((r) => ({
          auditId: String(r.audit_id),
          requestId: r.request_id,
          userId: r.user_id,
          tenantId: r.tenant_id,
          conversationId: r.conversation_id,
          toolCallId: r.tool_call_id,
          toolName: r.tool_name,
          argumentsJson: r.arguments_json,
          resultCode: r.result_code,
          durationMs: BigInt(r.duration_ms),
          traceId: r.trace_id,
          approver: r.approver,
          cached: r.cached,
          toolVersion: r.tool_version,
          createdAt: timestampFromDate(r.created_at),
        })),
        nextPageToken: rows.length > pageSize ? String(page.at(-1)?.audit_id ?? '') : '',
      };
    },
  });
}
