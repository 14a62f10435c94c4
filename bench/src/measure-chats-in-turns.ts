import { forkLoadWorker } from './fork-load-worker.ts';
import type { InterleavedPathResult, Target } from './load-job.ts';
import { type ChatRun, type ChatRuns, type CpuSubjects, startChatCpuWindow } from './measure-chats.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import type { CpuUsage } from './start-cpu-window.ts';

/** One chat system of {@link measureChatsInTurns}: what to call, and the processes that answer. */
export interface ChatSystemInTurns {
  name: string;
  target: Target;
  subjects: CpuSubjects;
}

// One system's CPU over its slices so far, and the wall time they took.
interface CpuTally {
  byProcess: Record<string, number>;
  busyMs: number;
  wallMs: number;
}

/**
 * Drives every system at each load level from one load-generator process, in turns: each is
 * warmed up, then they take slices of `sliceMs` round after round (the rounds fill the level's
 * `durationMs` for each system). The VM's speed drifts by the minute, so systems measured in
 * windows of their own, minutes apart, compare that drift as much as themselves; in turns they
 * share it. The CPU of each system's processes (the load generator included) is read around
 * every one of its slices, so its CPU per chat counts its own chats only.
 */
export async function measureChatsInTurns(
  systems: readonly ChatSystemInTurns[],
  loops: readonly LoopOptions[],
  sliceMs: number,
): Promise<ChatRuns[]> {
  const measured: ChatRuns[] = systems.map(() => ({ runs: [], totalCalls: 0 }));
  for (const loop of loops) {
    const rounds = Math.max(1, Math.round(loop.durationMs / sliceMs));
    const tallies: CpuTally[] = systems.map(() => ({ byProcess: {}, busyMs: 0, wallMs: 0 }));
    let open: { end: () => CpuUsage; started: number } | undefined;
    const worker = forkLoadWorker(
      {
        type: 'interleaved',
        paths: systems.map((system) => ({ name: system.name, target: system.target })),
        concurrency: loop.concurrency,
        warmupMs: loop.warmupMs,
        sliceMs,
        rounds,
        announceSlices: true,
      },
      systems.length * (loop.warmupMs + rounds * sliceMs) + 120_000,
      {
        onSlice: (path, phase) => {
          const subjects = systems[path]?.subjects;
          if (!subjects) return;
          if (phase === 'start') {
            open = {
              started: performance.now(),
              end: startChatCpuWindow(subjects, worker.pid),
            };
            return;
          }
          if (!open) return;
          const usage = open.end();
          const wallMs = performance.now() - open.started;
          open = undefined;
          const tally = tallies[path] as CpuTally;
          for (const [name, ms] of Object.entries(usage.byProcess)) {
            tally.byProcess[name] = (tally.byProcess[name] ?? 0) + ms;
          }
          tally.busyMs += usage.machineBusy * wallMs;
          tally.wallMs += wallMs;
        },
      },
    );
    const results = (await worker.result) as InterleavedPathResult[];
    results.forEach(({ result }, i) => {
      const tally = tallies[i] as CpuTally;
      const run: ChatRun = {
        result,
        cpu: { byProcess: tally.byProcess, machineBusy: tally.wallMs ? tally.busyMs / tally.wallMs : 0 },
      };
      const system = measured[i] as ChatRuns;
      system.runs.push(run);
      system.totalCalls += result.warmupCalls + result.ok + result.errors;
    });
  }
  return measured;
}
