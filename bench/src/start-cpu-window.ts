import { readCpuMs, readMachineCpu } from './process-stats.ts';

/** CPU used during a window: per process group (ms) and the machine's busy share. */
export interface CpuUsage {
  /** CPU milliseconds each named process (or group of processes) used in the window. */
  byProcess: Record<string, number>;
  /** Busy share of all cores in the window (0–1), whoever used them. */
  machineBusy: number;
}

/**
 * A group whose members come and go during the window (Postgres backends, as pools open and
 * close connections): listed again every {@link followEveryMs}.
 */
export type ChangingGroup = () => number[];

/** How often a changing group is listed and its members' CPU read, ms. */
export const followEveryMs = 250;

const read = (pid: number) => {
  try {
    return readCpuMs(pid);
  } catch {
    return undefined; // gone
  }
};

/**
 * Starts a CPU window over named processes, groups of them, or changing groups; calling the
 * returned function ends it. A fixed process that is gone by then counts nothing. A changing
 * group counts each member from the window's start or, for one that joined later, from its
 * start (its whole life is in the window), to its last reading: the end, or the last listing
 * before it exited, so a member that left takes its CPU with it only since that listing.
 */
export function startCpuWindow(pids: Record<string, number | number[] | ChangingGroup>): () => CpuUsage {
  const groups = Object.entries(pids).map(
    ([name, p]) => [name, typeof p === 'function' ? p : Array.isArray(p) ? p : [p]] as const,
  );
  const fixed = groups.flatMap(([, list]) => (typeof list === 'function' ? [] : list));
  const before = new Map(fixed.map((pid) => [pid, read(pid)] as const));
  // Per changing group: each member's reading when first seen (0 if it joined later) and its latest.
  const changing = new Map<
    string,
    { list: ChangingGroup; first: Map<number, number>; last: Map<number, number> }
  >();
  const follow = (joinedLater: boolean) => {
    for (const [, group] of changing) {
      for (const pid of new Set([...group.list(), ...group.last.keys()])) {
        const cpu = read(pid);
        if (cpu === undefined) continue;
        if (!group.first.has(pid)) group.first.set(pid, joinedLater ? 0 : cpu);
        group.last.set(pid, cpu);
      }
    }
  };
  for (const [name, list] of groups) {
    if (typeof list === 'function') changing.set(name, { list, first: new Map(), last: new Map() });
  }
  follow(false);
  const timer = changing.size ? setInterval(() => follow(true), followEveryMs) : undefined;
  const machineBefore = readMachineCpu();
  return () => {
    if (timer) clearInterval(timer);
    follow(true);
    const machineAfter = readMachineCpu();
    const used = (pid: number) => {
      const start = before.get(pid);
      const end = read(pid);
      return start === undefined || end === undefined ? 0 : end - start;
    };
    const byProcess = Object.fromEntries(
      groups.map(([name, list]) => {
        const group = changing.get(name);
        if (group) {
          let sum = 0;
          for (const [pid, last] of group.last) sum += last - (group.first.get(pid) ?? last);
          return [name, sum];
        }
        return [name, (list as number[]).reduce((sum, pid) => sum + used(pid), 0)];
      }),
    );
    const total = machineAfter.total - machineBefore.total;
    return { byProcess, machineBusy: total > 0 ? (machineAfter.busy - machineBefore.busy) / total : 0 };
  };
}
