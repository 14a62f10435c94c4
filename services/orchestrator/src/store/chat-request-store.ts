import { createHash } from 'node:crypto';
import type { Clock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import type { Owner } from '../core-types.ts';
import { nowAt, sqlTime } from './sql-time.ts';
import { sharedWriteBatcher, statementKind, type WriteBatcher } from './write-batcher.ts';

/** What a ChatRequest's idempotency key already stands for. */
export type ChatRequestClaim =
  | { state: 'new' }
  | { state: 'done'; response: unknown }
  | { state: 'in_progress' }
  | { state: 'mismatch' };

/**
 * ChatRequest idempotency: a retry with the same key gets the first response instead
 * of a second turn. Keys belong to (tenant, user): the same user id in another tenant
 * has keys of its own and never sees this one's responses.
 */
export interface ChatRequestStore {
  /** Claims the key for this request, or says what it already stands for. */
  claim(owner: Owner, key: string, request: unknown): Promise<ChatRequestClaim>;
  complete(owner: Owner, key: string, response: unknown): Promise<void>;
  /** Frees the key after a failed turn, so the retry can run. */
  release(owner: Owner, key: string): Promise<void>;
}

const hash = (request: unknown) => createHash('sha256').update(JSON.stringify(request)).digest('hex');

/** Options of {@link createChatRequestStore}. */
export interface ChatRequestStoreOptions {
  /**
   * This replica's id (see ReplicaRegistry): a claim is recorded under it, and a claim
   * of a replica that died mid-turn is taken over by the retry instead of answering
   * "still running" for ever. Without it claims are never taken over.
   */
  replica?: string;
  /** A test's manual clock; default the database's clock (see sqlTime). */
  clock?: Clock;
  /**
   * Where a finished turn's response goes, committed with other turns' writes;
   * default the batcher every store of `pool` shares.
   */
  writes?: WriteBatcher;
}

/** Creates the SQL {@link ChatRequestStore}. */
export function createChatRequestStore(pool: Pool, options: ChatRequestStoreOptions = {}): ChatRequestStore {
  const replica = options.replica ?? null;
  const now = sqlTime(options.clock);
  const writes = options.writes ?? sharedWriteBatcher(pool);
  return {
    async claim(owner, key, request) {
      const requestHash = hash(request);
      const inserted = await pool.query(
        `INSERT INTO orchestrator.chat_requests (tenant_id, user_id, idempotency_key, request_hash, owner)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [owner.tenantId, owner.userId, key, requestHash, replica],
      );
      if (inserted.rowCount === 1) return { state: 'new' };
      if (replica) {
        // Only a replica known to have died (its row in the registry ran out) loses its
        // claim; one statement, so of several retries at several replicas one takes it.
        const taken = await pool.query(
          `UPDATE orchestrator.chat_requests c SET owner = $5
            WHERE tenant_id = $1 AND user_id = $2 AND idempotency_key = $3 AND request_hash = $4
              AND response IS NULL AND owner IS NOT NULL AND owner <> $5
              AND EXISTS (SELECT 1 FROM orchestrator.replicas r
                           WHERE r.owner = c.owner AND r.alive_until <= ${nowAt('$6')})`,
          [owner.tenantId, owner.userId, key, requestHash, replica, now()],
        );
        if (taken.rowCount === 1) return { state: 'new' };
      }
      const { rows } = await pool.query<{ request_hash: string; response: unknown }>(
        `SELECT request_hash, response FROM orchestrator.chat_requests
          WHERE tenant_id = $1 AND user_id = $2 AND idempotency_key = $3`,
        [owner.tenantId, owner.userId, key],
      );
      const row = rows[0];
      if (!row) return this.claim(owner, key, request); // released in between: try again
      if (row.request_hash !== requestHash) return { state: 'mismatch' };
      return row.response === null ? { state: 'in_progress' } : { state: 'done', response: row.response };
    },
    async complete(owner, key, response) {
      // Committed before the response is returned, in a flush shared with other turns.
      await writes.write(statementKind, {
        text: `UPDATE orchestrator.chat_requests SET response = $4
          WHERE tenant_id = $1 AND user_id = $2 AND idempotency_key = $3`,
        values: [owner.tenantId, owner.userId, key, JSON.stringify(response)],
      });
    },
    async release(owner, key) {
      await pool.query(
        `DELETE FROM orchestrator.chat_requests
          WHERE tenant_id = $1 AND user_id = $2 AND idempotency_key = $3 AND response IS NULL`,
        [owner.tenantId, owner.userId, key],
      );
    },
  };
}
