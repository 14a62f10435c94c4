import type { Clock } from '@toolmesh/clock';
import type { RestartPolicy } from './restart-policy.ts';
import {
  type SupervisedProcess,
  type SuperviseServiceOptions,
  type Supervision,
  type SupervisorEvent,
  superviseService,
} from './supervise-service.ts';

/** Options of {@link createSupervisor}: shared by every service it supervises. */
export interface SupervisorOptions {
  policy?: Partial<RestartPolicy>;
  /** Default the system clock; tests pass a manual one and decide when a restart is due. */
  clock?: Clock;
  onEvent?: (event: SupervisorEvent) => void;
}

/** Supervises the services of one mesh. */
export interface Supervisor<P extends SupervisedProcess = SupervisedProcess> {
  supervise(
    options: Pick<SuperviseServiceOptions<P>, 'name' | 'process' | 'start' | 'ready'>,
  ): Supervision<P>;
  get(name: string): Supervision<P> | undefined;
  /** Ends supervision of every service (before the launcher stops them). */
  stop(): void;
}

/** Creates a {@link Supervisor}: one policy, clock and event sink for many services. */
export function createSupervisor<P extends SupervisedProcess = SupervisedProcess>(
  options: SupervisorOptions = {},
): Supervisor<P> {
  const supervisions = new Map<string, Supervision<P>>();
  let stopped = false;
  return {
    supervise(service) {
      if (stopped) throw new Error('the supervisor has stopped');
      supervisions.get(service.name)?.stop();
      const supervision = superviseService({ ...service, ...options });
      supervisions.set(service.name, supervision);
      return supervision;
    },
    get: (name) => supervisions.get(name),
    stop() {
      stopped = true;
      for (const supervision of supervisions.values()) supervision.stop();
    },
  };
}
