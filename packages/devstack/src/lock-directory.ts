import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { claimPidFile, pidFileHolder, releasePidFile } from './pid-file.ts';

/** The live process holding `dir`'s lock, if any. */
export function lockHolder(dir: string): number | undefined {
  return pidFileHolder(`${dir}.lock`);
}

/**
 * Claims `dir` for this process with a `<dir>.lock` file holding its pid: two PGlites on one
 * data directory would corrupt it. A lock left by a process that died (kill -9) is taken over.
 * Returns the release function.
 */
export function lockDirectory(dir: string): () => void {
  const path = `${dir}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  if (!claimPidFile(path)) {
    throw new Error(`${dir} is in use by process ${pidFileHolder(path) ?? process.pid} (another npm start?)`);
  }
  return () => releasePidFile(path);
}
