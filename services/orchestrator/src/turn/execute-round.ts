import { maskSensitiveJson } from '@toolmesh/telemetry';
import type { ModelToolCall } from '../core-types.ts';
import type { PlannedCall, ToolExecutor, ToolOutcome } from '../tools/index.ts';
import type { TurnContext } from './turn-context.ts';
import { toExecution } from './turn-response.ts';
import type { TurnWrites } from './turn-writes.ts';

/**
 * Runs a round's runnable calls (the executor decides what runs side by side),
 * reports each call live, and returns every outcome — executed or refused in
 * planning — in the order the model made the calls.
 */
export async function executeRound(
  executor: ToolExecutor,
  ctx: TurnContext,
  conversationId: string,
  round: { calls: ModelToolCall[]; runnable: PlannedCall[]; failed: ToolOutcome[] },
  writes?: TurnWrites,
): Promise<ToolOutcome[]> {
  const emit = ctx.emit;
  const outcomes = await executor.executeAll(
    round.runnable,
    {
      principal: ctx.principal,
      requestId: ctx.requestId,
      conversationId,
      signal: ctx.signal,
      // The reads' ledger and audit rows go with the round's messages.
      ...(writes ? { later: (write: () => Promise<unknown>) => writes.later(write) } : {}),
    },
    {
      onStart: (call) =>
        emit?.({
          case: 'toolCallStarted',
          value: {
            toolCallId: call.toolCallId,
            toolName: call.tool.definition.name,
            argumentsJson: maskSensitiveJson(
              call.argumentsJson,
              call.tool.definition.metadata?.sensitiveFields,
            ),
          },
        }),
      onFinish: (outcome) => emit?.({ case: 'toolCallFinished', value: { execution: toExecution(outcome) } }),
    },
  );
  for (const f of round.failed) emit?.({ case: 'toolCallFinished', value: { execution: toExecution(f) } });
  const byId = new Map([...outcomes, ...round.failed].map((o) => [o.toolCallId, o]));
  return round.calls.flatMap((c) => {
    const o = byId.get(c.id);
    return o ? [o] : [];
  });
}
