import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateMeshKeys } from './generate-mesh-keys.ts';
import { meshIssuer } from './mesh-credential.ts';

/** Where {@link writeMeshKeyFiles} put the keys. */
export interface MeshKeyFiles {
  /** The public JWKS every service verifies with (TOOLMESH_MESH_JWKS_FILE). */
  jwksFile: string;
  /** The gateway's private signing key (its TOOLMESH_MESH_KEY_FILE). */
  gatewayKeyFile: string;
  /** The orchestrator's private signing key (its TOOLMESH_MESH_KEY_FILE). */
  orchestratorKeyFile: string;
}

/**
 * Generates the mesh's keys into `dir`: `gateway.key.json` and `orchestrator.key.json` (private,
 * mode 0600) and `jwks.json` (public). What `npm start` does at every start, and what an operator
 * runs once to create the Secrets and the ConfigMap of a deployment.
 */
export async function writeMeshKeyFiles(dir: string): Promise<MeshKeyFiles> {
  const keys = await generateMeshKeys([meshIssuer.gateway, meshIssuer.orchestrator]);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files: MeshKeyFiles = {
    jwksFile: join(dir, 'jwks.json'),
    gatewayKeyFile: join(dir, 'gateway.key.json'),
    orchestratorKeyFile: join(dir, 'orchestrator.key.json'),
  };
  const secret = async (path: string, issuer: string) => {
    await writeFile(path, `${JSON.stringify(keys.privateKeys[issuer])}\n`, { mode: 0o600 });
    // An existing file keeps its mode on write: make sure it is private.
    await chmod(path, 0o600);
  };
  await secret(files.gatewayKeyFile, meshIssuer.gateway);
  await secret(files.orchestratorKeyFile, meshIssuer.orchestrator);
  await writeFile(files.jwksFile, `${JSON.stringify(keys.jwks, null, 2)}\n`);
  return files;
}
