import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { forkLoadWorker, runInLoadWorker } from './fork-load-worker.ts';
import type { LoopJobResult } from './load-job.ts';
import { meshChatSystem } from './measure-end-to-end.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import { type BenchDatabase, startBenchMesh } from './start-bench-mesh.ts';
import { type ProfileSummary, summarizeCpuProfile } from './summarize-cpu-profile.ts';

/** The services whose CPU is profiled. */
export const profiledServices = ['gateway', 'orchestrator', 'dispatch', 'order'] as const;

/** Results of {@link measureProfile}. */
export interface ProfileResult {
  /** Where the raw .cpuprofile files are (open them in Chrome DevTools). */
  directory: string;
  load: LoopJobResult;
  byService: Record<string, ProfileSummary>;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Runs the end-to-end load on a mesh whose services run under `node --cpu-prof`,
 * then summarizes each profile over the measured window only (start-up and
 * warm-up left out): self time per function and per package.
 */
export async function measureProfile(
  database: BenchDatabase,
  loop: LoopOptions,
  directory: string,
): Promise<ProfileResult> {
  mkdirSync(directory, { recursive: true });
  const serviceEnv = Object.fromEntries(
    profiledServices.map((name) => [
      name,
      { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${directory} --cpu-prof-name=${name}.cpuprofile` },
    ]),
  );
  const mesh = await startBenchMesh({ database, serviceEnv });
  const { target } = meshChatSystem('profiled', mesh);
  let window = { from: 0, to: 0 };
  let load: LoopJobResult;
  try {
    const warmup = { concurrency: loop.concurrency, durationMs: loop.warmupMs, warmupMs: 0 };
    await runInLoadWorker({ type: 'loop', target, loop: warmup }, loop.warmupMs + 60_000);
    const worker = forkLoadWorker(
      { type: 'loop', target, loop: { ...loop, warmupMs: 500 } },
      loop.durationMs + 60_000,
      { onWindow: () => (window = { from: nowUs(), to: 0 }) },
    );
    load = (await worker.result) as LoopJobResult;
    window.to = nowUs();
  } finally {
    // The profiles are written as each service exits.
    await mesh.stop();
  }
  const files = readdirSync(directory);
  const byService = Object.fromEntries(
    profiledServices.flatMap((name) =>
      files.includes(`${name}.cpuprofile`)
        ? [[name, summarizeCpuProfile(join(directory, `${name}.cpuprofile`), window.from, window.to)]]
        : [],
    ),
  );
  return { directory, load, byService };
}
