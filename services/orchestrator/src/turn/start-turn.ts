import type { ChatResponse } from '@toolmesh/proto';
import { Code, publicError } from '@toolmesh/rpc';
import type { StoredMessage } from '../core-types.ts';
import type { ConversationStore } from '../store/index.ts';
import type { CollectTaskResults } from '../tools/index.ts';
import { type ConversationLeases, conversationBusy } from './conversation-lease.ts';
import type { RunRounds } from './run-rounds.ts';
import { newTurnState, type TurnContext } from './turn-context.ts';

/** What opening a turn needs. */
export interface StartTurnDeps {
  conversations: ConversationStore;
  leases: ConversationLeases;
  /** Closes the actions still waiting in the conversation: a new message moves on from them. */
  closeUndecided: (conversationId: string) => Promise<void>;
  /** Results of async tasks that finished since the last turn. */
  collectTaskResults?: CollectTaskResults;
  runRounds: RunRounds;
}

/**
 * A user's message: its conversation is created or acquired (the user's own, not
 * held by another turn), held for the turn, brought up to date (waiting actions
 * closed, finished tasks noted), and the rounds run on it.
 */
export async function startTurn(
  deps: StartTurnDeps,
  ctx: TurnContext,
  requestedId: string,
  message: string,
): Promise<ChatResponse> {
  const { conversations, leases } = deps;
  const token = leases.newToken();
  const user: StoredMessage = { role: 'user', content: message };
  if (!requestedId) {
    // A new conversation is created already held, with the user's message: it has
    // no actions waiting and no tasks yet, and its history is just that message.
    const { conversationId, messages: history } = await conversations.createHeld(
      ctx.principal,
      { leaseMs: leases.leaseMs, token },
      [user],
    );
    return leases.hold(conversationId, token, () =>
      deps.runRounds(ctx, newTurnState(conversationId), history),
    );
  }
  // Another tenant's user with the same id is refused like a missing conversation.
  const acquired = await conversations.acquireOwned(requestedId, ctx.principal, {
    leaseMs: leases.leaseMs,
    token,
  });
  if (acquired === 'not_found') throw publicError(Code.NotFound, 'conversation not found');
  if (acquired === 'busy') throw conversationBusy();
  return leases.hold(requestedId, token, async () => {
    await deps.closeUndecided(requestedId);
    const taskNotes = (await deps.collectTaskResults?.(requestedId, ctx.principal)) ?? [];
    await conversations.append(requestedId, [...taskNotes, user]);
    return deps.runRounds(ctx, newTurnState(requestedId), await conversations.load(requestedId));
  });
}
