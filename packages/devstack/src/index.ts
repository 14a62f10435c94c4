export { defaultPorts, type Mesh, type MeshOptions, type MeshPorts, startMesh } from './start-mesh.ts';
export { type ServiceProcess, spawnService } from './spawn-service.ts';
export { waitForPort } from './wait-for-port.ts';
