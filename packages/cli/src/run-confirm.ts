import { toJson } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { ChatService, ConfirmResponseSchema } from '@toolmesh/proto';
import { type CliContext, exitCode } from './cli-context.ts';
import { createLiveOutput } from './live-output.ts';
import { printable, printableJson, printableLine } from './printable.ts';
import { renderToolExecution } from './render-tool-execution.ts';

/** `toolmesh confirm <conversation_id> <action_id> [--decline]`: decides a pending action without a prompt. */
export async function runConfirm(
  ctx: CliContext,
  conversationId: string,
  actionId: string,
  approve: boolean,
): Promise<number> {
  const client = createClient(ChatService, ctx.transport);
  try {
    const res = await client.confirm(
      { conversationId, actionId, approve },
      ctx.timeoutMs ? { timeoutMs: ctx.timeoutMs } : {},
    );
    if (ctx.json) {
      ctx.stdout.write(`${printableJson(toJson(ConfirmResponseSchema, res), 2)}\n`);
      return exitCode.ok;
    }
    const out = createLiveOutput(ctx.stdout, { spinner: false });
    if (!approve) out.line('declined; the action was not executed');
    for (const execution of res.toolExecutions) out.line(renderToolExecution(execution, out));
    if (res.reply) out.line(printable(res.reply));
    for (const action of res.pendingActions) {
      out.line(
        `still pending: ${printableLine(action.toolName)} ${printableLine(action.summary)} (action ${printableLine(action.actionId)})`,
      );
    }
    return exitCode.ok;
  } catch (error) {
    return ctx.reportError(error, 'toolmesh.v1.ChatService/Confirm');
  }
}
