import { Counter, Gauge, type Registry } from '@toolmesh/telemetry';

/** What operators see of the orchestrator replicas a gateway balances over. */
export interface OrchestratorReplicaMetrics {
  breakerChanged(address: string, state: 'closed' | 'half-open' | 'open'): void;
  /** Drops a replica's series when discovery no longer reports it. */
  forget(address: string): void;
}

const stateValue = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * `toolmesh_orchestrator_breaker_state{replica}` (0 closed, 1 half-open, 2 open: ejected) and
 * `toolmesh_orchestrator_ejections_total{replica}`, one series per replica discovery reports,
 * so a replica the gateways stopped sending to is visible before its callers notice.
 */
export function createOrchestratorReplicaMetrics(registry: Registry): OrchestratorReplicaMetrics {
  const registers = [registry];
  const state = new Gauge({
    name: 'toolmesh_orchestrator_breaker_state',
    help: 'Circuit breaker of an orchestrator replica at this gateway: 0 closed, 1 half-open, 2 open (ejected).',
    labelNames: ['replica'],
    registers,
  });
  const ejections = new Counter({
    name: 'toolmesh_orchestrator_ejections_total',
    help: 'Times this gateway ejected an orchestrator replica (its breaker opened).',
    labelNames: ['replica'],
    registers,
  });
  return {
    breakerChanged(replica, value) {
      state.set({ replica }, stateValue[value]);
      if (value === 'open') ejections.inc({ replica });
      else ejections.inc({ replica }, 0);
    },
    forget(replica) {
      state.remove({ replica });
      ejections.remove({ replica });
    },
  };
}
