import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CredentialIssuer,
  createCredentialIssuer,
  type MeshKeyFiles,
  meshIssuer,
  signingKeyFromFile,
  writeMeshKeyFiles,
} from '@toolmesh/rpc';

/** The mesh keys of one benchmark: files a child process can read, removed afterwards. */
export interface BenchMeshKeys {
  readonly files: MeshKeyFiles;
  remove(): Promise<void>;
}

/**
 * New mesh keys in a private temporary folder, as `npm start` makes them: tool services
 * verify with the JWKS, the load generator signs with the orchestrator's key.
 */
export async function createBenchMeshKeys(): Promise<BenchMeshKeys> {
  const dir = await mkdtemp(join(tmpdir(), 'toolmesh-bench-keys-'));
  try {
    const files = await writeMeshKeyFiles(dir);
    return { files, remove: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Signs as the orchestrator does: its key from its file (re-read on change), 60 s credentials. */
export function createBenchIssuer(orchestratorKeyFile: string): CredentialIssuer {
  return createCredentialIssuer({
    issuer: meshIssuer.orchestrator,
    signingKey: signingKeyFromFile({ path: orchestratorKeyFile }),
  });
}
