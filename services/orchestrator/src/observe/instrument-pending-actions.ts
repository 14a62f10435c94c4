import type { PendingActionStore } from '../store/index.ts';
import type { OrchestratorMetrics } from './orchestrator-metrics.ts';

/**
 * Counts approvals: writes held for the user, and how they were closed. Counters rather
 * than a gauge of what is waiting: every replica sees only its own share of the changes.
 */
export function instrumentPendingActionStore(
  store: PendingActionStore,
  metrics: OrchestratorMetrics,
): PendingActionStore {
  return {
    ...store,
    async create(action) {
      const created = await store.create(action);
      metrics.approvalsRequested.inc({ tool: created.toolName });
      return created;
    },
    async claim(actionId, to, approver) {
      const claimed = await store.claim(actionId, to, approver);
      if (claimed) metrics.approvalsDecided.inc({ decision: to === 'executing' ? 'approved' : 'declined' });
      return claimed;
    },
    async close(actionIds, status) {
      const closed = await store.close(actionIds, status);
      if (closed.length) metrics.approvalsDecided.inc({ decision: status }, closed.length);
      return closed;
    },
  };
}
