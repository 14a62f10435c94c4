import { forkLoadWorker, runInLoadWorker } from './fork-load-worker.ts';
import type { LoopJobResult, Target } from './load-job.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import { type CpuUsage, startCpuWindow } from './start-cpu-window.ts';

/** One measured load level of a chat system. */
export interface ChatRun {
  result: LoopJobResult;
  /** CPU of each process in the measured window (the load generator included). */
  cpu: CpuUsage;
}

/** The processes whose CPU is counted. */
export interface CpuSubjects {
  pids: Record<string, number>;
  /**
   * The Postgres backends serving the mesh's database now, listed again through each window:
   * pools close idle connections (pg's default after 10 s) and open new ones under load.
   */
  sqlBackends?: () => number[];
}

/** Starts reading the CPU of `subjects` and of the load generator `loadPid`, as every chat run counts it. */
export function startChatCpuWindow(subjects: CpuSubjects, loadPid: number): () => CpuUsage {
  return startCpuWindow({
    ...subjects.pids,
    ...(subjects.sqlBackends ? { 'postgres backends': subjects.sqlBackends } : {}),
    'load generator': loadPid,
  });
}

/** Every load level's run, and how many calls were made in all (warm-ups included). */
export interface ChatRuns {
  runs: ChatRun[];
  totalCalls: number;
}

/**
 * Drives `target` at each load level from a load-generator process: a warm-up run
 * first (connections, pools, JIT, caches), then the measured one, recording the CPU
 * every subject process used during the measured window only.
 */
export async function measureChats(
  target: Target,
  loops: LoopOptions[],
  subjects: CpuSubjects,
): Promise<ChatRuns> {
  const runs: ChatRun[] = [];
  let totalCalls = 0;
  for (const loop of loops) {
    const warmupLoop = { concurrency: loop.concurrency, durationMs: loop.warmupMs, warmupMs: 0 };
    const warm = await runInLoadWorker<LoopJobResult>(
      { type: 'loop', target, loop: warmupLoop },
      loop.warmupMs + 60_000,
    );
    totalCalls += warm.ok + warm.errors;
    let endWindow: (() => CpuUsage) | undefined;
    // A short warm-up of its own: the new process connects before its window opens.
    const measured = { ...loop, warmupMs: Math.min(500, loop.warmupMs) };
    const worker = forkLoadWorker({ type: 'loop', target, loop: measured }, loop.durationMs + 60_000, {
      onWindow: () => {
        endWindow = startChatCpuWindow(subjects, worker.pid);
      },
    });
    const result = (await worker.result) as LoopJobResult;
    totalCalls += result.warmupCalls + result.ok + result.errors;
    runs.push({ result, cpu: endWindow?.() ?? { byProcess: {}, machineBusy: 0 } });
  }
  return { runs, totalCalls };
}
