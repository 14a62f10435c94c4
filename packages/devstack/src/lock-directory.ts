import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The live process holding `dir`'s lock, if any. */
export function lockHolder(dir: string): number | undefined {
  let holder: number;
  try {
    holder = Number(readFileSync(`${dir}.lock`, 'utf8').trim());
  } catch {
    return undefined;
  }
  return holder && holder !== process.pid && alive(holder) ? holder : undefined;
}

/**
 * Claims `dir` for this process with a `<dir>.lock` file holding its pid: two PGlites on one
 * data directory would corrupt it. A lock left by a process that died (kill -9) is taken over.
 * Returns the release function.
 */
export function lockDirectory(dir: string): () => void {
  const path = `${dir}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = lockHolder(dir);
      if (holder !== undefined) throw new Error(`${dir} is in use by process ${holder} (another npm start?)`);
      rmSync(path, { force: true });
    }
  }
  return () => {
    try {
      if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
    } catch {
      // Already gone.
    }
  };
}
