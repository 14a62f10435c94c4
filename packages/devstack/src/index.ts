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
export { waitForPort } from './wait-for-port.ts';
