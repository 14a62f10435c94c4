export { type ServiceProcess, spawnService } from './spawn-service.ts';
export { defaultPorts, type Mesh, type MeshOptions, type MeshPorts, startMesh } from './start-mesh.ts';
export { waitForPort } from './wait-for-port.ts';
