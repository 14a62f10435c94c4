import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import type {
  ExecutionLedger,
  PendingActionRecord,
  PendingActionStore,
  ReplicaRegistry,
} from '../store/index.ts';

/** Who finishes an interrupted approved write (the chat engine). */
export interface ActionReconciliation {
  reconcileAction(action: PendingActionRecord, signal: AbortSignal): Promise<void>;
}

/** Options of {@link createReconciler}. */
export interface ReconcilerOptions {
  ledger: ExecutionLedger;
  actions: PendingActionStore;
  engine: ActionReconciliation;
  logger: Logger;
  /**
   * This replica's liveness, renewed every interval: while it beats, no other replica
   * takes over what it runs. Without it this replica's rows count as dead once stale.
   */
  replicas?: ReplicaRegistry;
  /** Work running longer than this without finishing counts as interrupted. */
  staleMs: number;
  /** How often to look; default 30 s. */
  intervalMs?: number;
  /**
   * How long a replica's claim on one interrupted action holds before another replica
   * may try; default the larger of `staleMs` and three intervals.
   */
  claimMs?: number;
  /** Drives the passes; default the system clock (staleness is judged by the stores' clock). */
  clock?: Clock;
}

/** Resolves what a crashed orchestrator left behind. */
export interface Reconciler {
  /** One pass now; resolves when done. */
  runOnce(): Promise<void>;
  start(): void;
  stop(): void;
}

/** How long a replica counts as alive after a beat: three intervals, so one late beat is no death. */
export const aliveMsFor = (intervalMs: number) => 3 * intervalMs;

/**
 * After a crash, executions still "running" become "unknown". Reads need nothing
 * more (the model is told the call was interrupted). Approved writes are finished
 * through the tool service's idempotency record — sent again with the same key,
 * which answers the stored result if the write happened and performs it once if
 * it never arrived — so every approved write ends with exactly one result and
 * never runs twice.
 *
 * Every replica runs a reconciler. They share the work by row claims in SQL, not by
 * electing a leader: a stale execution is marked unknown by one UPDATE (each row
 * returned to one replica), an interrupted action is claimed by one replica for a
 * while (claimStale), and its write is finished under the conversation's lease after
 * checking the action is still unfinished. Rows of a replica that still beats are never
 * taken, however slow it is.
 */
export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { ledger, actions, engine, logger, replicas } = options;
  const clock = options.clock ?? systemClock;
  const intervalMs = options.intervalMs ?? 30_000;
  const claimMs = options.claimMs ?? Math.max(options.staleMs, aliveMsFor(intervalMs));
  let timer: ClockTimer | undefined;
  let running: Promise<void> | undefined;
  const stopController = new AbortController();

  const beat = async () => {
    if (!replicas) return;
    try {
      await replicas.beat(aliveMsFor(intervalMs));
    } catch (error) {
      logger.warn({ err: error }, 'renewing this replica failed; will retry');
    }
  };

  async function pass() {
    const unknown = await ledger.markStaleAsUnknown(options.staleMs);
    if (unknown.length)
      logger.warn({ executions: unknown.length }, 'interrupted tool executions marked unknown');
    for (const action of await actions.claimStale(options.staleMs, ledger.owner, claimMs)) {
      if (stopController.signal.aborted) break;
      try {
        await engine.reconcileAction(action, stopController.signal);
        logger.info(
          { action_id: action.actionId, tool: action.toolName },
          'interrupted approved action reconciled',
        );
      } catch (error) {
        // Busy conversation or tool service down: any replica's next pass tries again.
        logger.warn({ err: error, action_id: action.actionId }, 'reconciling an action failed; will retry');
        await actions.releaseClaim(action.actionId, ledger.owner).catch(() => {});
      }
    }
  }

  const runOnce = () => {
    running ??= beat()
      .then(pass)
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    runOnce,
    start() {
      timer = clock
        .setInterval(() => {
          // A long pass must not let this replica look dead: the beat does not wait for it.
          if (running) void beat();
          runOnce().catch((error: unknown) => logger.warn({ err: error }, 'reconciliation pass failed'));
        }, intervalMs)
        .unref();
    },
    stop() {
      timer?.cancel();
      stopController.abort();
    },
  };
}
