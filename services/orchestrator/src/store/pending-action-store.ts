import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import { maskSensitiveJson } from '@toolmesh/telemetry';
import type { Owner } from '../core-types.ts';
import { ownerIsDead } from './replica-registry.ts';
import { nowAt, nowMinus, nowPlus, sqlTime } from './sql-time.ts';

/** Lifecycle of a write the model proposed. */
export type ActionStatus = 'pending' | 'executing' | 'executed' | 'declined' | 'expired' | 'superseded';

/** A write tool call held until the user decides. */
export interface PendingActionRecord {
  actionId: string;
  conversationId: string;
  /** Owner: the action belongs to this user of this tenant (see isOwnedBy). */
  tenantId: string;
  userId: string;
  toolName: string;
  toolCallId: string;
  /** Canonical JSON: exactly what approval executes. Never shown: see maskedArgumentsJson. */
  argumentsJson: string;
  argumentsHash: string;
  /** The arguments as the user is shown them, sensitive fields masked. */
  maskedArgumentsJson: string;
  /** One line for the user, sensitive fields masked. */
  summary: string;
  status: ActionStatus;
  expiresAt: Date;
  /** The stored answer of the decision (a ChatResponse as JSON). */
  response: unknown;
  /** The proposing user's principal (JSON): approval executes as this user. */
  principal: unknown;
}

/** New-action input of {@link PendingActionStore.create}. */
export interface NewPendingAction {
  conversationId: string;
  tenantId: string;
  userId: string;
  toolName: string;
  toolCallId: string;
  argumentsJson: string;
  /** What the user is shown instead of the arguments (sensitive fields masked). */
  maskedArgumentsJson: string;
  /** Masked as well: it is stored, answered and read back in replies. */
  summary: string;
  ttlSeconds: number;
  /** The user's principal as JSON. */
  principal: unknown;
}

/** Server-owned approvals: the model proposes, only the user's Confirm executes. */
export interface PendingActionStore {
  create(action: NewPendingAction): Promise<PendingActionRecord>;
  get(actionId: string): Promise<PendingActionRecord | undefined>;
  /** The action if it belongs to `owner` (tenant and user); another's answers like a missing one. */
  getOwned(actionId: string, owner: Owner): Promise<PendingActionRecord | undefined>;
  /** Actions of the conversation still waiting for a decision (or expired without one). */
  listUndecided(conversationId: string): Promise<PendingActionRecord[]>;
  /** Moves pending → `to` only if still pending and unexpired; false when someone else got there first. */
  claim(actionId: string, to: 'executing' | 'declined', approver: string): Promise<boolean>;
  /**
   * Claims approved writes to reconcile for `reconciler` (a replica id) for `claimMs`:
   * executing longer ago than `olderThanMs`, with no execution running at this or any
   * live replica, and not claimed by another replica whose claim still holds. One
   * statement: of replicas racing, each action goes to exactly one. At most `limit`
   * (default 16) per call, so a backlog spreads over the replicas.
   */
  claimStale(
    olderThanMs: number,
    reconciler: string,
    claimMs: number,
    limit?: number,
  ): Promise<PendingActionRecord[]>;
  /** Gives a claim of {@link claimStale} back (the attempt failed), so any replica may try again. */
  releaseClaim(actionId: string, reconciler: string): Promise<void>;
  /**
   * Final status with the response that repeated Confirms will get. Only the first
   * finish counts: a late duplicate (a holder that lost its lease) changes nothing.
   */
  finish(actionId: string, status: ActionStatus, response: unknown): Promise<void>;
  /**
   * Closes undecided actions because the user moved on (or they expired); answers the
   * ids this call closed — one still pending — so a racing closer tells each once.
   */
  close(actionIds: string[], status: 'expired' | 'superseded'): Promise<string[]>;
}

interface Row {
  action_id: string;
  conversation_id: string;
  tenant_id: string;
  user_id: string;
  tool_name: string;
  tool_call_id: string;
  arguments_json: string;
  arguments_hash: string;
  masked_arguments_json: string | null;
  summary: string;
  status: ActionStatus;
  expires_at: Date;
  response: unknown;
  principal: unknown;
}

const fromRow = (r: Row): PendingActionRecord => ({
  actionId: r.action_id,
  conversationId: r.conversation_id,
  tenantId: r.tenant_id,
  userId: r.user_id,
  toolName: r.tool_name,
  toolCallId: r.tool_call_id,
  argumentsJson: r.arguments_json,
  argumentsHash: r.arguments_hash,
  // Rows older than the column: masked by the fields masked everywhere.
  maskedArgumentsJson: r.masked_arguments_json ?? maskSensitiveJson(r.arguments_json),
  summary: r.summary,
  status: r.status,
  expiresAt: r.expires_at,
  response: r.response,
  principal: r.principal,
});

/** sha256 of the canonical arguments: binds an approval to exactly these arguments. */
export function hashArguments(canonicalJson: string): string {
  return createHash('sha256').update(canonicalJson).digest('hex');
}

/** Options of {@link createPendingActionStore}. */
export interface PendingActionStoreOptions {
  /** A test's manual clock for expiry and decision times; default the database's clock (see sqlTime). */
  clock?: Clock;
}

/**
 * Creates the SQL-backed {@link PendingActionStore}. Expiry is judged by the database's
 * clock, one for all replicas; a test's manual clock, passed in, decides instead.
 */
export function createPendingActionStore(
  pool: Pool,
  options: PendingActionStoreOptions = {},
): PendingActionStore {
  const now = sqlTime(options.clock);
  return {
    async create(a) {
      const { rows } = await pool.query<Row>(
        `INSERT INTO orchestrator.pending_actions
           (action_id, conversation_id, user_id, tool_name, tool_call_id, arguments_json, arguments_hash,
            summary, status, expires_at, principal, tenant_id, masked_arguments_json)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', ${nowAt('$11')} + make_interval(secs => $9), $10,
                 $12, $13)
         RETURNING *`,
        [
          randomUUID(),
          a.conversationId,
          a.userId,
          a.toolName,
          a.toolCallId,
          a.argumentsJson,
          hashArguments(a.argumentsJson),
          a.summary,
          a.ttlSeconds,
          JSON.stringify(a.principal),
          now(),
          a.tenantId,
          a.maskedArgumentsJson,
        ],
      );
      return fromRow(rows[0] as Row);
    },
    async get(actionId) {
      const { rows } = await pool.query<Row>(
        'SELECT * FROM orchestrator.pending_actions WHERE action_id = $1',
        [actionId],
      );
      return rows[0] && fromRow(rows[0]);
    },
    async getOwned(actionId, owner) {
      if (!owner.tenantId || !owner.userId) return undefined;
      const { rows } = await pool.query<Row>(
        `SELECT * FROM orchestrator.pending_actions
          WHERE action_id = $1 AND tenant_id = $2 AND user_id = $3`,
        [actionId, owner.tenantId, owner.userId],
      );
      return rows[0] && fromRow(rows[0]);
    },
    async listUndecided(conversationId) {
      const { rows } = await pool.query<Row>(
        `SELECT * FROM orchestrator.pending_actions
          WHERE conversation_id = $1 AND status = 'pending' ORDER BY created_at`,
        [conversationId],
      );
      return rows.map(fromRow);
    },
    async claim(actionId, to, approver) {
      const { rowCount } = await pool.query(
        `UPDATE orchestrator.pending_actions SET status = $2, decided_at = ${nowAt('$4')}, approver = $3
          WHERE action_id = $1 AND status = 'pending' AND expires_at > ${nowAt('$4')}`,
        [actionId, to, approver, now()],
      );
      return rowCount === 1;
    },
    async claimStale(olderThanMs, reconciler, claimMs, limit = 16) {
      // The claim's columns are on the row itself. Rows another replica is claiming right
      // now are skipped (SKIP LOCKED), and a row it claimed after this statement began is
      // re-checked on its new version and left out: of replicas racing, each row goes to
      // one. The limit spreads a large backlog over the replicas.
      const { rows } = await pool.query<Row>(
        `UPDATE orchestrator.pending_actions
            SET reconciler = $2, reconcile_until = ${nowPlus('$4', '$3')}
          WHERE action_id IN (
            SELECT action_id FROM orchestrator.pending_actions a
             WHERE status = 'executing' AND decided_at < ${nowMinus('$4', '$1')}
               AND (reconcile_until IS NULL OR reconcile_until < ${nowAt('$4')} OR reconciler = $2)
               AND NOT EXISTS (SELECT 1 FROM orchestrator.tool_executions e
                                WHERE e.action_id = a.action_id AND e.status = 'running'
                                  AND (e.owner = $2 OR NOT ${ownerIsDead('e.owner', '$4')}))
             ORDER BY decided_at LIMIT $5 FOR UPDATE SKIP LOCKED)
          RETURNING *`,
        [olderThanMs, reconciler, claimMs, now(), limit],
      );
      return rows.map(fromRow);
    },
    async releaseClaim(actionId, reconciler) {
      await pool.query(
        `UPDATE orchestrator.pending_actions SET reconcile_until = NULL
          WHERE action_id = $1 AND reconciler = $2`,
        [actionId, reconciler],
      );
    },
    async finish(actionId, status, response) {
      await pool.query(
        `UPDATE orchestrator.pending_actions SET status = $2, response = $3
          WHERE action_id = $1 AND response IS NULL`,
        [actionId, status, JSON.stringify(response)],
      );
    },
    async close(actionIds, status) {
      if (!actionIds.length) return [];
      const { rows } = await pool.query<{ action_id: string }>(
        `UPDATE orchestrator.pending_actions SET status = $2, decided_at = ${nowAt('$3')}
          WHERE action_id = ANY($1::uuid[]) AND status = 'pending'
          RETURNING action_id`,
        [actionIds, status, now()],
      );
      return rows.map((r) => r.action_id);
    },
  };
}
