import { toJson } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { type AuditRecord, AuditRecordSchema, AuditService } from '@toolmesh/proto';
import { type CliContext, exitCode } from './cli-context.ts';
import { formatDuration } from './format-duration.ts';
import { formatTable } from './format-table.ts';
import { printableJson, printableLine } from './printable.ts';

/** Filters of {@link runAudit}. */
export interface AuditOptions {
  /** How many records, newest first; default 20. */
  limit: number;
  conversationId?: string;
  toolName?: string;
  userId?: string;
}

// The server answers at most 500 per page.
const maxPageSize = 500;

/** `toolmesh audit`: the newest audit records (needs the audit:read permission). */
export async function runAudit(ctx: CliContext, options: AuditOptions): Promise<number> {
  const client = createClient(AuditService, ctx.transport);
  const records: AuditRecord[] = [];
  try {
    let pageToken = '';
    do {
      const res = await client.listAuditRecords(
        {
          pageSize: Math.min(maxPageSize, options.limit - records.length),
          pageToken,
          conversationId: options.conversationId ?? '',
          toolName: options.toolName ?? '',
          userId: options.userId ?? '',
        },
        { timeoutMs: ctx.timeoutMs ?? 30_000 },
      );
      records.push(...res.records);
      pageToken = res.nextPageToken;
    } while (pageToken && records.length < options.limit);
  } catch (error) {
    return ctx.reportError(error, 'toolmesh.v1.AuditService/ListAuditRecords');
  }
  const shown = records.slice(0, options.limit);
  if (ctx.json) {
    ctx.stdout.write(
      `${printableJson(
        shown.map((r) => toJson(AuditRecordSchema, r)),
        2,
      )}\n`,
    );
    return exitCode.ok;
  }
  if (shown.length === 0) {
    ctx.stdout.write('no audit records\n');
    return exitCode.ok;
  }
  // Every field the server sent is cleaned: arguments and ids come from models and users.
  const p = printableLine;
  const rows = shown.map((r) => [
    r.createdAt ? timestampDate(r.createdAt).toISOString().replace('T', ' ').slice(0, 19) : '-',
    p(r.userId),
    p(r.toolName),
    p(r.resultCode),
    formatDuration(Number(r.durationMs)),
    r.cached ? 'yes' : '',
    p(r.approver || ''),
    p(r.conversationId),
    p(r.argumentsJson),
  ]);
  ctx.stdout.write(
    `${formatTable(['TIME (UTC)', 'USER', 'TOOL', 'RESULT', 'DURATION', 'CACHED', 'APPROVER', 'CONVERSATION', 'ARGUMENTS'], rows)}\n`,
  );
  return exitCode.ok;
}
