import { toJson } from '@bufbuild/protobuf';
import { type ChatResponse, PrincipalSchema, StopReason } from '@toolmesh/proto';
import { toolAllowed } from '../assistants/index.ts';
import type { StoredMessage } from '../core-types.ts';
import type { ConversationStore, PendingActionStore } from '../store/index.ts';
import type { ToolExecutor } from '../tools/index.ts';
import { assistantOf, type CallModelDeps, callModel } from './call-model.ts';
import { executeRound } from './execute-round.ts';
import { planRound, type RoundLimits } from './plan-round.ts';
import { resultMessage } from './tool-messages.ts';
import type { TurnContext, TurnState } from './turn-context.ts';
import { askForApproval, respond, toExecution } from './turn-response.ts';
import { withUniqueCallIds } from './unique-call-ids.ts';

/** What the round loop works with. */
export interface RoundDeps extends CallModelDeps {
  conversations: ConversationStore;
  actions: PendingActionStore;
  executor: ToolExecutor;
  maxRounds: number;
  approvalTtlSeconds: number;
  limits: RoundLimits & {
    /** Default output budget of one tool result, in characters. */
    maxToolOutputChars: number;
  };
}

/** The round loop as the other steps call it. */
export type RunRounds = (
  ctx: TurnContext,
  state: TurnState,
  history: StoredMessage[],
) => Promise<ChatResponse>;

/**
 * Model rounds until a final answer, an approval stop, or the round limit. The
 * history is read once per turn: while the turn holds the lease nobody else
 * appends, so what it appends itself is kept in memory as it is stored.
 */
export async function runRounds(
  deps: RoundDeps,
  ctx: TurnContext,
  state: TurnState,
  history: StoredMessage[],
): Promise<ChatResponse> {
  const append = async (messages: StoredMessage[]) => {
    history.push(...(await deps.conversations.append(state.conversationId, messages)));
  };
  for (let round = 0; round < deps.maxRounds; round++) {
    const answer = await callModel(deps, ctx, state, history);
    const calls = withUniqueCallIds(answer.toolCalls, history);
    await append([{ role: 'assistant', content: answer.content, toolCalls: calls }]);
    if (!calls.length) return respond(state, answer.content ?? '', StopReason.COMPLETED);

    const { runnable, failed, held } = await planRound({
      conversationId: state.conversationId,
      principal: ctx.principal,
      calls,
      registry: deps.registry,
      limits: deps.limits,
      allowed: (name) => toolAllowed(assistantOf(state).profile, name),
      holdForApproval: (action) =>
        deps.actions.create({
          ...action,
          ttlSeconds: deps.approvalTtlSeconds,
          principal: toJson(PrincipalSchema, ctx.principal),
        }),
    });
    const finished = await executeRound(deps.executor, ctx, state.conversationId, {
      calls,
      runnable,
      failed,
    });
    state.executions.push(...finished.map(toExecution));
    await append(finished.map((o) => resultMessage(o, deps.registry, deps.limits.maxToolOutputChars)));
    if (held.length) {
      const response = askForApproval(state, held, answer.content);
      for (const p of response.pendingActions) ctx.emit?.({ case: 'pendingAction', value: p });
      return response;
    }
  }
  // Round limit: one last answer without tools, so the caller always gets a reply.
  const answer = await callModel(deps, ctx, state, history, true);
  const reply = answer.content ?? 'I could not finish this request within the allowed number of steps.';
  await append([{ role: 'assistant', content: reply, toolCalls: [] }]);
  return respond(state, reply, StopReason.ROUND_LIMIT);
}
