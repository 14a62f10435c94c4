import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwksFromFile, type KeyResolver, type MeshKeyFiles, writeMeshKeyFiles } from '@toolmesh/rpc';

/** A mesh's keys made before the mesh starts, in a private temporary folder. */
export interface MeshKeyDir {
  /** For startMesh's `meshKeys`: the mesh signs with these. */
  files: MeshKeyFiles;
  /** The mesh's public keys, for a test's own tool server (createToolServer's `meshKeys`). */
  keys: KeyResolver;
  /** Deletes the folder. */
  remove(): Promise<void>;
}

/**
 * Writes a mesh's keys before the mesh starts: a tool service the test runs itself must
 * verify the credentials of the orchestrator that is about to start, like any other.
 */
export async function createMeshKeyDir(): Promise<MeshKeyDir> {
  const dir = await mkdtemp(join(tmpdir(), 'toolmesh-test-keys-'));
  const files = await writeMeshKeyFiles(dir);
  return {
    files,
    keys: jwksFromFile({ path: files.jwksFile }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
