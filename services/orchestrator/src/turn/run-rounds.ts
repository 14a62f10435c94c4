import { toJson } from '@bufbuild/protobuf';
import { type ChatResponse, PrincipalSchema, SideEffect, StopReason } from '@toolmesh/proto';
import { toolAllowed } from '../assistants/index.ts';
import type { StoredMessage } from '../core-types.ts';
import { asStoredMessages, type ConversationStore, type PendingActionStore } from '../store/index.ts';
import type { ToolExecutor } from '../tools/index.ts';
import { assistantOf, type CallModelDeps, callModel } from './call-model.ts';
import { executeRound } from './execute-round.ts';
import { planRound, type RoundLimits } from './plan-round.ts';
import { resultMessage } from './tool-messages.ts';
import type { TurnContext, TurnState } from './turn-context.ts';
import { askForApproval, respond, toExecution } from './turn-response.ts';
import { createTurnWrites, type TurnWrites } from './turn-writes.ts';
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
 *
 * What must be durable when: a round of reads stores the model's message and the
 * results together at its end, with the reads' ledger and audit rows (a read needs
 * nothing stored before it is sent: running it again after a crash is safe); a
 * round that holds a write for approval stores the model's message first; the
 * final answer is stored with the turn's last writes before it is returned (see
 * TurnWrites).
 */
export async function runRounds(
  deps: RoundDeps,
  ctx: TurnContext,
  state: TurnState,
  history: StoredMessage[],
): Promise<ChatResponse> {
  if (state.writes) return rounds(deps, ctx, state, history, state.writes);
  // Nobody flushes after us (a Confirm's rounds): everything before the answer.
  const writes = createTurnWrites();
  let failed = false;
  try {
    return await rounds(deps, ctx, state, history, writes);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await writes.flush().catch((error: unknown) => {
      if (!failed) throw error;
    });
  }
}

async function rounds(
  deps: RoundDeps,
  ctx: TurnContext,
  state: TurnState,
  history: StoredMessage[],
  writes: TurnWrites,
): Promise<ChatResponse> {
  // Queued with the turn's other writes; kept in history as stored once they are durable.
  const append = (messages: StoredMessage[]) => {
    writes.later(async () => {
      await deps.conversations.append(state.conversationId, messages);
    });
    return messages;
  };
  const appendNow = async (messages: StoredMessage[]) => {
    append(messages);
    await writes.flush();
    history.push(...asStoredMessages(messages));
  };
  for (let round = 0; round < deps.maxRounds; round++) {
    const answer = await callModel(deps, ctx, state, history);
    const calls = withUniqueCallIds(answer.toolCalls, history);
    const said: StoredMessage = { role: 'assistant', content: answer.content, toolCalls: calls };
    // Stored with the round's results, or with the turn's last writes before the answer
    // leaves (see ConversationLeases.hold).
    append([said]);
    if (!calls.length) {
      return respond(state, answer.content ?? '', StopReason.COMPLETED);
    }

    const { runnable, failed, held } = await planRound({
      conversationId: state.conversationId,
      principal: ctx.principal,
      calls,
      registry: deps.registry,
      limits: deps.limits,
      allowed: (name) => toolAllowed(assistantOf(state).profile, name),
      holdForApproval: async (action) => {
        // The action points at the model's message: the conversation and the message first.
        await writes.flush();
        return deps.actions.create({
          ...action,
          ttlSeconds: deps.approvalTtlSeconds,
          principal: toJson(PrincipalSchema, ctx.principal),
        });
      },
    });
    // A write about to run (none does in a turn today: writes wait for approval) finds
    // the conversation and the model's message stored.
    if (runnable.some((c) => c.tool.definition.metadata?.sideEffect === SideEffect.WRITE)) {
      await writes.flush();
    }
    const finished = await executeRound(
      deps.executor,
      ctx,
      state.conversationId,
      { calls, runnable, failed },
      writes,
    );
    state.executions.push(...finished.map(toExecution));
    history.push(...asStoredMessages([said]));
    await appendNow(finished.map((o) => resultMessage(o, deps.registry, deps.limits.maxToolOutputChars)));
    if (held.length) {
      const response = askForApproval(state, held, answer.content);
      for (const p of response.pendingActions) ctx.emit?.({ case: 'pendingAction', value: p });
      return response;
    }
  }
  // Round limit: one last answer without tools, so the caller always gets a reply.
  const answer = await callModel(deps, ctx, state, history, true);
  const reply = answer.content ?? 'I could not finish this request within the allowed number of steps.';
  append([{ role: 'assistant', content: reply, toolCalls: [] }]);
  return respond(state, reply, StopReason.ROUND_LIMIT);
}
