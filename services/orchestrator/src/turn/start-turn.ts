import { randomUUID } from 'node:crypto';
import type { ChatResponse } from '@toolmesh/proto';
import { Code, publicError } from '@toolmesh/rpc';
import type { StoredMessage } from '../core-types.ts';
import { asStoredMessages, type ConversationAssistant, type ConversationStore } from '../store/index.ts';
import type { CollectTaskResults } from '../tools/index.ts';
import { type ConversationLeases, conversationBusy } from './conversation-lease.ts';
import type { RunRounds } from './run-rounds.ts';
import { newTurnState, type TurnAssistant, type TurnContext } from './turn-context.ts';
import { createTurnWrites } from './turn-writes.ts';

/** What admitting a turn decides from. */
export interface TurnAdmission {
  /** `ChatRequest.assistant` ("" for the default). */
  requested: string;
  /** The conversation's id (generated beforehand for a new one). */
  conversationId: string;
  /** The assistant the conversation started with, when it has one. */
  stored?: ConversationAssistant;
}

/** An admitted turn: its assistant, and the tenant's slot to give back when it ends. */
export interface AdmittedTurn {
  assistant: TurnAssistant;
  release: () => Promise<void>;
}

/** What opening a turn needs. */
export interface StartTurnDeps {
  conversations: ConversationStore;
  leases: ConversationLeases;
  /**
   * Chooses the turn's assistant and admits it under the tenant's budgets; throws
   * (NOT_FOUND, INVALID_ARGUMENT, RESOURCE_EXHAUSTED) before anything is stored or asked.
   */
  admit: (ctx: TurnContext, request: TurnAdmission) => Promise<AdmittedTurn>;
  /** Closes the actions still waiting in the conversation: a new message moves on from them. */
  closeUndecided: (conversationId: string) => Promise<void>;
  /** Results of async tasks that finished since the last turn. */
  collectTaskResults?: CollectTaskResults;
  runRounds: RunRounds;
}

/**
 * A user's message: its conversation is created or acquired (the user's own, not
 * held by another turn), its assistant chosen and the turn admitted by the tenant's
 * budgets, the conversation held for the turn, brought up to date (waiting actions
 * closed, finished tasks noted), and the rounds run on it.
 */
export async function startTurn(
  deps: StartTurnDeps,
  ctx: TurnContext,
  requestedId: string,
  message: string,
  requestedAssistant = '',
): Promise<ChatResponse> {
  const { conversations, leases } = deps;
  const token = leases.newToken();
  const user: StoredMessage = { role: 'user', content: message };
  if (!requestedId) {
    // The id comes first: the assistant's variant is drawn from it. A refused turn
    // stores nothing.
    const id = randomUUID();
    const { assistant, release } = await deps.admit(ctx, {
      requested: requestedAssistant,
      conversationId: id,
    });
    try {
      // A new conversation is created already held, with the user's message: it has
      // no actions waiting and no tasks yet, and its history is just that message. No
      // one knows its id before the turn answers, so it is written with the turn's first
      // round (or its answer), in the same flush.
      const writes = createTurnWrites();
      writes.later(() =>
        conversations.createHeld(ctx.principal, { leaseMs: leases.leaseMs, token }, [user], {
          conversationId: id,
          assistant: { assistant: assistant.assistant, variant: assistant.variant },
        }),
      );
      return await leases.hold(
        id,
        token,
        () => deps.runRounds(ctx, newTurnState(id, assistant, writes), asStoredMessages([user])),
        writes,
      );
    } finally {
      await release();
    }
  }
  // Another tenant's user with the same id is refused like a missing conversation.
  const acquired = await conversations.acquireOwned(requestedId, ctx.principal, {
    leaseMs: leases.leaseMs,
    token,
  });
  if (acquired === 'not_found') throw publicError(Code.NotFound, 'conversation not found');
  if (acquired === 'busy') throw conversationBusy();
  const writes = createTurnWrites();
  return leases.hold(
    requestedId,
    token,
    async () => {
      const stored = await conversations.assistantOf(requestedId);
      const { assistant, release } = await deps.admit(ctx, {
        requested: requestedAssistant,
        conversationId: requestedId,
        ...(stored ? { stored } : {}),
      });
      try {
        // A conversation from before assistants stays with the one it continues with.
        if (!stored) {
          await conversations.adoptAssistant(requestedId, {
            assistant: assistant.assistant,
            variant: assistant.variant,
          });
        }
        await deps.closeUndecided(requestedId);
        const taskNotes = (await deps.collectTaskResults?.(requestedId, ctx.principal)) ?? [];
        const history = await conversations.load(requestedId);
        // The user's message goes with the first round's writes; notes of tasks just marked
        // reported are stored at once, as nothing else would tell them again.
        const added = [...taskNotes, user];
        writes.later(() => conversations.append(requestedId, added));
        if (taskNotes.length) await writes.flush();
        history.push(...asStoredMessages(added));
        return await deps.runRounds(ctx, newTurnState(requestedId, assistant, writes), history);
      } finally {
        await release();
      }
    },
    writes,
  );
}
