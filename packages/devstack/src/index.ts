export { createSupervisor, type Supervisor, type SupervisorOptions } from './create-supervisor.ts';
export { describeSupervisorEvent } from './describe-supervisor-event.ts';
export { type DataDir, type PrepareDataDirOptions, prepareDataDir } from './prepare-data-dir.ts';
export { defaultRestartPolicy, type RestartPolicy, restartDelay } from './restart-policy.ts';
export { type ServiceProcess, spawnService } from './spawn-service.ts';
export {
  defaultMetricsPorts,
  defaultPorts,
  freeMeshPorts,
  type Mesh,
  type MeshOptions,
  type MeshPorts,
  type MetricsService,
  startMesh,
} from './start-mesh.ts';
export {
  type ProcessExit,
  type SupervisedProcess,
  type SuperviseServiceOptions,
  type Supervision,
  type SupervisionState,
  type SupervisorEvent,
  superviseService,
} from './supervise-service.ts';
export { waitForPort } from './wait-for-port.ts';
