import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Pool } from '@toolmesh/db';
import { AuditService } from '@toolmesh/proto';
import { Code, publicError, type ServiceRegistration, serviceRegistration } from '@toolmesh/rpc';

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
  created_at: Date;
}

/**
 * AuditService over the audit log (internal: the gateway checks "audit:read").
 * Pages go newest first; the page token is the last record's id.
 */
export function createAuditService(pool: Pool): ServiceRegistration {
  return serviceRegistration(AuditService, {
    async listAuditRecords(req) {
      const pageSize = req.pageSize <= 0 ? 50 : Math.min(req.pageSize, 500);
      if (req.pageToken && !/^\d{1,18}$/.test(req.pageToken)) {
        throw publicError(Code.InvalidArgument, 'invalid page_token');
      }
      if (req.conversationId && !/^[0-9a-f-]{36}$/i.test(req.conversationId)) {
        throw publicError(Code.InvalidArgument, 'conversation_id must be a UUID');
      }
      const { rows } = await pool.query<AuditRow>(
        `SELECT * FROM orchestrator.audit_log
          WHERE ($1 = '' OR audit_id < $1::bigint)
            AND ($2 = '' OR user_id = $2)
            AND ($3 = '' OR tool_name = $3)
            AND ($4 = '' OR conversation_id = $4::uuid)
          ORDER BY audit_id DESC LIMIT $5`,
        [req.pageToken, req.userId, req.toolName, req.conversationId, pageSize + 1],
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
          createdAt: timestampFromDate(r.created_at),
        })),
        nextPageToken: rows.length > pageSize ? String(page.at(-1)?.audit_id ?? '') : '',
      };
    },
  });
}
