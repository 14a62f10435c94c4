import { readCpuMs, readMachineCpu } from './process-stats.ts';

/** CPU used during a window: per process group (ms) and the machine's busy share. */
export interface CpuUsage {
  /** CPU milliseconds each named process (or group of processes) used in the window. */
  byProcess: Record<string, number>;
  /** Busy share of all cores in the window (0–1), whoever used them. */
  machineBusy: number;
}

const read = (pid: number) => {
  try {
    return readCpuMs(pid);
  } catch {
    return undefined; // gone
  }
};

/**
 * Starts a CPU window over named processes or groups of them; calling the
 * returned function ends it. A process that is gone by then counts nothing.
 */
export function startCpuWindow(pids: Record<string, number | number[]>): () => CpuUsage {
  const groups = Object.entries(pids).map(([name, p]) => [name, Array.isArray(p) ? p : [p]] as const);
  const before = new Map(groups.flatMap(([, list]) => list.map((pid) => [pid, read(pid)] as const)));
  const machineBefore = readMachineCpu();
  return () => {
    const machineAfter = readMachineCpu();
    const used = (pid: number) => {
      const start = before.get(pid);
      const end = read(pid);
      return start === undefined || end === undefined ? 0 : end - start;
    };
    const byProcess = Object.fromEntries(
      groups.map(([name, list]) => [name, list.reduce((sum, pid) => sum + used(pid), 0)]),
    );
    const total = machineAfter.total - machineBefore.total;
    return { byProcess, machineBusy: total > 0 ? (machineAfter.busy - machineBefore.busy) / total : 0 };
  };
}
