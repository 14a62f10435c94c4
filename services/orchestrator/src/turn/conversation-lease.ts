import { randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '@toolmesh/clock';
import { Code, publicError } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import type { ConversationStore } from '../store/index.ts';
import type { TurnWrites } from './turn-writes.ts';

/** Options of {@link createConversationLeases}. */
export interface ConversationLeasesOptions {
  conversations: ConversationStore;
  logger: Logger;
  /** Lease on a conversation while a turn runs, renewed every third; default 30 s. */
  leaseMs?: number;
  /** Drives the renewals; default the system clock. */
  clock?: Clock;
}

/**
 * One turn at a time per conversation, across replicas: a turn holds a lease on
 * its conversation, renewed while it runs, so a crashed holder frees the
 * conversation within one lease.
 */
export interface ConversationLeases {
  readonly leaseMs: number;
  /** A fresh token to acquire a lease under. */
  newToken(): string;
  /**
   * Keeps a lease acquired under `token` while `work` runs, then releases it. With
   * `writes`, the release joins the turn's held-back writes and all are flushed
   * before `work`'s answer is given: a turn whose writes fail fails.
   */
  hold<T>(conversationId: string, token: string, work: () => Promise<T>, writes?: TurnWrites): Promise<T>;
  /** Acquires the conversation (ABORTED while another turn holds it) and holds it for `work`. */
  withConversation<T>(conversationId: string, work: () => Promise<T>): Promise<T>;
}

/** The refusal of a conversation another turn holds. */
export const conversationBusy = () =>
  publicError(Code.Aborted, 'another request is running on this conversation; retry when it is done');

/** Creates the {@link ConversationLeases} over the conversation store. */
export function createConversationLeases(options: ConversationLeasesOptions): ConversationLeases {
  const { conversations, logger } = options;
  const leaseMs = options.leaseMs ?? 30_000;
  const clock = options.clock ?? systemClock;

  async function hold<T>(
    conversationId: string,
    token: string,
    work: () => Promise<T>,
    writes?: TurnWrites,
  ): Promise<T> {
    const renewal = clock.setInterval(() => {
      // What the turn held back goes first: a new conversation exists only once it is written.
      (writes ? writes.flush() : Promise.resolve())
        .then(() => conversations.renew(conversationId, leaseMs, token))
        .then(
          (held) => {
            // Stalled past the lease: another turn may run on the conversation now. What this
            // one still writes is fenced where it matters (an action's first result wins, a
            // tool call's idempotency key); say so loudly.
            if (!held) logger.error({ conversation_id: conversationId }, 'the conversation lease was lost');
          },
          (error: unknown) => {
            logger.warn(
              { err: error, conversation_id: conversationId },
              'renewing the conversation lease failed',
            );
          },
        );
    }, leaseMs / 3);
    const release = () =>
      conversations.release(conversationId, token).catch((error: unknown) => {
        logger.warn({ err: error, conversation_id: conversationId }, 'releasing the conversation failed');
      });
    let failed = false;
    try {
      return await work();
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      renewal.cancel();
      if (writes) {
        // The last messages, the usage row and the release in one flush, before the answer.
        writes.later(release);
        await writes.flush().catch((error: unknown) => {
          if (!failed) throw error;
          logger.warn({ err: error, conversation_id: conversationId }, "a failed turn's writes failed");
        });
      } else {
        await release();
      }
    }
  }

  return {
    leaseMs,
    newToken: () => randomUUID(),
    hold,
    async withConversation(conversationId, work) {
      const token = randomUUID();
      if (!(await conversations.tryAcquire(conversationId, leaseMs, token))) throw conversationBusy();
      return hold(conversationId, token, work);
    },
  };
}
