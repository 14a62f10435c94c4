import type { CallTarget } from './call-target.ts';
import { createTarget } from './create-target.ts';
import type { InterleavedJob, InterleavedPathResult, SlicePhase } from './load-job.ts';
import { readCpuMs } from './process-stats.ts';
import { runCallers } from './run-closed-loop.ts';
import { summarize } from './summarize.ts';

// What one path gathered over its slices.
interface Tally {
  latencies: number[];
  warmupCalls: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  clientCpuMs: number;
  serverCpuMs: number;
}

const cpuMs = (used: NodeJS.CpuUsage) => (used.user + used.system) / 1000;

/** Told when a recorded slice starts and when it has ended; the slice waits for it each time. */
export type OnSlice = (path: number, phase: SlicePhase) => Promise<void>;

/**
 * Runs an {@link InterleavedJob} in this process: every target is built and warmed up, then
 * each round drives every path for one slice. A VM whose speed drifts by the minute slows
 * all paths alike, so their ratios hold where windows minutes apart would not. Each path's
 * result counts its own slices only, with this process's CPU and its server's over them.
 * `onSlice` hears of each recorded slice's start and end (for CPU read by someone else).
 */
export async function runInterleaved(
  job: InterleavedJob,
  onSlice?: OnSlice,
): Promise<InterleavedPathResult[]> {
  const targets: CallTarget[] = [];
  try {
    for (const path of job.paths) targets.push(await createTarget(path.target));
    const tallies: Tally[] = job.paths.map(() => ({
      latencies: [],
      warmupCalls: 0,
      errors: 0,
      elapsedMs: 0,
      clientCpuMs: 0,
      serverCpuMs: 0,
    }));
    const slice = async (i: number, windowMs: number, record: boolean) => {
      const target = targets[i] as CallTarget;
      const tally = tallies[i] as Tally;
      const server = job.paths[i]?.serverPid;
      if (record) await onSlice?.(i, 'start');
      const serverFrom = server === undefined ? 0 : readCpuMs(server);
      const clientFrom = process.cpuUsage();
      const run = await runCallers(() => target.call(), job.concurrency, windowMs, record);
      if (!record) {
        tally.warmupCalls += run.calls;
        return;
      }
      tally.clientCpuMs += cpuMs(process.cpuUsage(clientFrom));
      if (server !== undefined) tally.serverCpuMs += readCpuMs(server) - serverFrom;
      await onSlice?.(i, 'end');
      for (const latency of run.latencies) tally.latencies.push(latency);
      tally.errors += run.errors;
      tally.firstError ??= run.firstError;
      tally.elapsedMs += run.elapsedMs;
    };
    for (let i = 0; i < targets.length; i++) await slice(i, job.warmupMs, false);
    for (let round = 0; round < job.rounds; round++) {
      // Each round starts one path further on: no path always follows the same one (and its garbage).
      for (let k = 0; k < targets.length; k++) await slice((round + k) % targets.length, job.sliceMs, true);
    }
    return job.paths.map((path, i): InterleavedPathResult => {
      const t = tallies[i] as Tally;
      return {
        name: path.name,
        serverCpuMs: t.serverCpuMs,
        result: {
          concurrency: job.concurrency,
          warmupCalls: t.warmupCalls,
          ok: t.latencies.length,
          errors: t.errors,
          ...(t.firstError ? { firstError: t.firstError } : {}),
          elapsedMs: t.elapsedMs,
          perSecond: (t.latencies.length * 1000) / Math.max(1, t.elapsedMs),
          latency: summarize(t.latencies),
          counters: targets[i]?.counters ?? {},
          cpuMs: t.clientCpuMs,
        },
      };
    });
  } finally {
    await Promise.all(targets.map((target) => target.close()));
  }
}
