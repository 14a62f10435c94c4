import { toJson } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { AssistantService, ListAssistantsResponseSchema } from '@toolmesh/proto';
import { type CliContext, exitCode } from './cli-context.ts';
import { formatTable } from './format-table.ts';
import { printableJson, printableLine } from './printable.ts';

const rpc = 'toolmesh.v1.AssistantService/ListAssistants';

/**
 * `toolmesh assistants`: the assistants the caller's tenant may use (the default marked),
 * their tools, models (primary first, then fallbacks) and gray-release variants.
 */
export async function runAssistants(ctx: CliContext): Promise<number> {
  const client = createClient(AssistantService, ctx.transport);
  let res: Awaited<ReturnType<typeof client.listAssistants>>;
  try {
    res = await client.listAssistants({}, { timeoutMs: ctx.timeoutMs ?? 30_000 });
  } catch (error) {
    return ctx.reportError(error, rpc);
  }
  if (ctx.json) {
    ctx.stdout.write(
      `${printableJson(toJson(ListAssistantsResponseSchema, res, { alwaysEmitImplicit: true }), 2)}\n`,
    );
    return exitCode.ok;
  }
  if (res.assistants.length === 0) {
    ctx.stdout.write('no assistants for you\n');
    return exitCode.ok;
  }
  // Names and descriptions come from the operators' file; still cleaned before they reach a terminal.
  const p = printableLine;
  const list = (items: string[]) => items.map(p).join(', ');
  const rows = res.assistants.map((a) => [
    a.name === res.defaultAssistant ? `${p(a.name)} *` : p(a.name),
    a.tools.length ? list(a.tools) : '(all yours)',
    list(a.models) || '-',
    a.variants.length > 1 ? a.variants.map((v) => `${p(v.name)} ${v.weight}`).join(', ') : '-',
    p(a.description) || '-',
  ]);
  ctx.stdout.write(`${formatTable(['ASSISTANT', 'TOOLS', 'MODELS', 'VARIANTS', 'DESCRIPTION'], rows)}\n`);
  if (res.defaultAssistant) {
    ctx.stdout.write(`* your default (chat without --assistant)\n`);
  }
  return exitCode.ok;
}
