import { type Clock, systemClock } from '@toolmesh/clock';
import type { ConversationStore, PendingActionStore } from '../store/index.ts';
import { notExecutedMessage } from '../turn/index.ts';

/** What closing waiting actions needs. */
export interface CloseUndecidedDeps {
  actions: PendingActionStore;
  conversations: ConversationStore;
  /** Tells expired actions from superseded ones; default the system clock. */
  clock?: Clock;
}

/**
 * The user moved on (a new message) or came back too late (an expired Confirm):
 * every action still waiting in the conversation is closed unexecuted, expired
 * or superseded, each with its one tool message saying so.
 */
export async function closeUndecided(deps: CloseUndecidedDeps, conversationId: string): Promise<void> {
  const { actions } = deps;
  const undecided = await actions.listUndecided(conversationId);
  if (!undecided.length) return;
  const now = (deps.clock ?? systemClock).now();
  const expired = undecided.filter((a) => a.expiresAt.getTime() <= now);
  const superseded = undecided.filter((a) => a.expiresAt.getTime() > now);
  // Only what this call closed gets its message: a closer racing it (a turn at another
  // replica that took the conversation after this one's lease ran out) writes the others.
  const closedExpired = new Set(
    await actions.close(
      expired.map((a) => a.actionId),
      'expired',
    ),
  );
  const closedSuperseded = new Set(
    await actions.close(
      superseded.map((a) => a.actionId),
      'superseded',
    ),
  );
  await deps.conversations.append(conversationId, [
    ...expired
      .filter((a) => closedExpired.has(a.actionId))
      .map((a) => notExecutedMessage(a.toolCallId, 'EXPIRED', 'The approval expired; not executed.')),
    ...superseded
      .filter((a) => closedSuperseded.has(a.actionId))
      .map((a) =>
        notExecutedMessage(
          a.toolCallId,
          'NOT_CONFIRMED',
          'The user did not approve this action; it was not executed.',
        ),
      ),
  ]);
}
