import { toJson } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { createClient } from '@connectrpc/connect';
import { GetUsageResponseSchema, UsageService } from '@toolmesh/proto';
import { type CliContext, exitCode } from './cli-context.ts';
import { formatTable } from './format-table.ts';
import { printableJson, printableLine } from './printable.ts';

const rpc = 'toolmesh.v1.UsageService/GetUsage';

/** Filters of {@link runUsage}; absent ones are the server's defaults (the last 24 hours, your tenant). */
export interface UsageOptions {
  from?: Date;
  to?: Date;
  tenantId?: string;
  assistant?: string;
}

/** `toolmesh usage`: turns, conversations and tokens per tenant, assistant, variant and model. */
export async function runUsage(ctx: CliContext, options: UsageOptions): Promise<number> {
  const client = createClient(UsageService, ctx.transport);
  let res: Awaited<ReturnType<typeof client.getUsage>>;
  try {
    res = await client.getUsage(
      {
        ...(options.from ? { from: timestampFromDate(options.from) } : {}),
        ...(options.to ? { to: timestampFromDate(options.to) } : {}),
        tenantId: options.tenantId ?? '',
        assistant: options.assistant ?? '',
      },
      { timeoutMs: ctx.timeoutMs ?? 30_000 },
    );
  } catch (error) {
    return ctx.reportError(error, rpc);
  }
  if (ctx.json) {
    ctx.stdout.write(
      `${printableJson(toJson(GetUsageResponseSchema, res, { alwaysEmitImplicit: true }), 2)}\n`,
    );
    return exitCode.ok;
  }
  if (res.rows.length === 0) {
    ctx.stdout.write('no usage in this range\n');
    return exitCode.ok;
  }
  const p = printableLine;
  const rows = res.rows.map((r) => [
    p(r.tenantId),
    p(r.assistant) || '-',
    p(r.variant) || '-',
    p(r.model) || '-',
    String(r.turns),
    String(r.conversations),
    String(r.promptTokens),
    String(r.completionTokens),
    String(r.totalTokens),
  ]);
  ctx.stdout.write(
    `${formatTable(['TENANT', 'ASSISTANT', 'VARIANT', 'MODEL', 'TURNS', 'CONVERSATIONS', 'PROMPT TOKENS', 'COMPLETION TOKENS', 'TOTAL TOKENS'], rows)}\n`,
  );
  return exitCode.ok;
}
