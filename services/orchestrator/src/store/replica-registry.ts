import type { Clock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import { nowAt, nowPlus, sqlTime } from './sql-time.ts';

/**
 * The orchestrators alive right now, in SQL. Each replica renews its row while it lives;
 * a row that ran out is a dead replica, whose running executions, approved writes and
 * request claims the others may take over. What a live replica holds is never taken,
 * however slow it is.
 */
export interface ReplicaRegistry {
  /** This replica's id: the execution ledger's owner. */
  readonly owner: string;
  /** Renews this replica for `aliveMs` and answers how many replicas are alive (this one included). */
  beat(aliveMs: number): Promise<number>;
  /** Replicas alive at the last beat; 1 before the first. */
  liveCount(): number;
  /** Marks this replica gone (a clean shutdown): its rows are taken over at once. */
  leave(): Promise<void>;
}

/** Options of {@link createReplicaRegistry}. */
export interface ReplicaRegistryOptions {
  owner: string;
  /** A test's manual clock; default the database's clock (see sqlTime). */
  clock?: Clock;
  /** Rows of replicas dead longer than this are deleted; default a day. */
  forgetAfterMs?: number;
}

/** Creates the SQL {@link ReplicaRegistry}. */
export function createReplicaRegistry(pool: Pool, options: ReplicaRegistryOptions): ReplicaRegistry {
  const { owner } = options;
  const now = sqlTime(options.clock);
  const forgetAfterMs = options.forgetAfterMs ?? 86_400_000;
  let live = 1;
  return {
    owner,
    async beat(aliveMs) {
      const { rows } = await pool.query<{ live: number }>(
        `WITH beat AS (
           INSERT INTO orchestrator.replicas (owner, alive_until) VALUES ($1, ${nowPlus('$3', '$2')})
           ON CONFLICT (owner) DO UPDATE SET alive_until = excluded.alive_until),
         forgotten AS (
           DELETE FROM orchestrator.replicas WHERE owner <> $1 AND alive_until < ${nowAt('$3')} - make_interval(secs => $4::double precision / 1000))
         SELECT 1 + count(*)::int AS live FROM orchestrator.replicas
          WHERE owner <> $1 AND alive_until > ${nowAt('$3')}`,
        [owner, aliveMs, now(), forgetAfterMs],
      );
      live = rows[0]?.live ?? 1;
      return live;
    },
    liveCount: () => live,
    async leave() {
      await pool.query(
        `UPDATE orchestrator.replicas SET alive_until = ${nowAt('$2')} - interval '1 millisecond' WHERE owner = $1`,
        [owner, now()],
      );
    },
  };
}

/** SQL: true when no live replica is `ownerColumn` (judged at the time parameter `param`). */
export const ownerIsDead = (ownerColumn: string, param: string) =>
  `NOT EXISTS (SELECT 1 FROM orchestrator.replicas r
                WHERE r.owner = ${ownerColumn} AND r.alive_until > ${nowAt(param)})`;
