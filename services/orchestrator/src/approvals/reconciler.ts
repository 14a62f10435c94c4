import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import type { ExecutionLedger, PendingActionRecord, PendingActionStore } from '../store/index.ts';

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
  /** Work running longer than this without finishing counts as interrupted. */
  staleMs: number;
  /** How often to look; default 30 s. */
  intervalMs?: number;
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

/**
 * After a crash, executions still "running" become "unknown". Reads need nothing
 * more (the model is told the call was interrupted). Approved writes are finished
 * through the tool service's idempotency record — sent again with the same key,
 * which answers the stored result if the write happened and performs it once if
 * it never arrived — so every approved write ends with exactly one result and
 * never runs twice.
 */
export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { ledger, actions, engine, logger } = options;
  const clock = options.clock ?? systemClock;
  let timer: ClockTimer | undefined;
  let running: Promise<void> | undefined;
  const stopController = new AbortController();

  async function pass() {
    const unknown = await ledger.markStaleAsUnknown(options.staleMs);
    if (unknown.length)
      logger.warn({ executions: unknown.length }, 'interrupted tool executions marked unknown');
    for (const action of await actions.listExecuting(options.staleMs, ledger.owner)) {
      try {
        await engine.reconcileAction(action, stopController.signal);
        logger.info(
          { action_id: action.actionId, tool: action.toolName },
          'interrupted approved action reconciled',
        );
      } catch (error) {
        // Busy conversation or tool service down: the next pass tries again.
        logger.warn({ err: error, action_id: action.actionId }, 'reconciling an action failed; will retry');
      }
    }
  }

  const runOnce = () => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    runOnce,
    start() {
      timer = clock
        .setInterval(() => {
          runOnce().catch((error: unknown) => logger.warn({ err: error }, 'reconciliation pass failed'));
        }, options.intervalMs ?? 30_000)
        .unref();
    },
    stop() {
      timer?.cancel();
      stopController.abort();
    },
  };
}
