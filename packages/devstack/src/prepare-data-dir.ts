import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { lockHolder } from './lock-directory.ts';

/** Options of {@link prepareDataDir}. */
export interface PrepareDataDirOptions {
  /** The mesh's data folder (`npm start`: `.toolmesh/data` in the repository). */
  dir: string;
  /** Start from empty: what the last run left is deleted. */
  fresh?: boolean;
}

/** Where the embedded database keeps its data, and whether it holds the last run's. */
export interface DataDir {
  dir: string;
  /** PGlite's own directory, inside `dir`. */
  pgliteDir: string;
  /** kept: the last run's data; new: nothing there yet; fresh: deleted on request. */
  state: 'kept' | 'new' | 'fresh';
}

/**
 * Readies the data folder of the embedded database. Only its `pglite` subfolder is ever
 * deleted, so pointing it at a folder that holds other things loses nothing else.
 */
export async function prepareDataDir(options: PrepareDataDirOptions): Promise<DataDir> {
  const pgliteDir = join(options.dir, 'pglite');
  const existed = existsSync(join(pgliteDir, 'PG_VERSION'));
  const holder = lockHolder(pgliteDir);
  if (holder !== undefined)
    throw new Error(`${pgliteDir} is in use by process ${holder} (another npm start?)`);
  if (options.fresh) await rm(pgliteDir, { recursive: true, force: true });
  return {
    dir: options.dir,
    pgliteDir,
    state: options.fresh ? 'fresh' : existed ? 'kept' : 'new',
  };
}
