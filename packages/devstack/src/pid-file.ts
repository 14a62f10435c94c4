import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The live process, other than this one, whose pid `path` holds; undefined when none. */
export function pidFileHolder(path: string): number | undefined {
  let holder: number;
  try {
    holder = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
  return holder && holder !== process.pid && alive(holder) ? holder : undefined;
}

/**
 * Claims `path` for this process by creating it with this pid; a file left by a process that
 * died (kill -9) is taken over. Answers whether this process holds it now (false when it is
 * held by a live process, this one included: a claim is made once).
 */
export function claimPidFile(path: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (pidFileHolder(path) !== undefined || readPid(path) === process.pid) return false;
      rmSync(path, { force: true });
    }
  }
  return false;
}

/** Removes `path` if this process holds it. */
export function releasePidFile(path: string): void {
  if (readPid(path) === process.pid) rmSync(path, { force: true });
}

function readPid(path: string): number | undefined {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return undefined;
  }
}
