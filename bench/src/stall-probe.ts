// A diagnostic preload, not part of any run: where a process's event loop is held up.
//
//   BENCH_STALL_PROBE=gateway NODE_OPTIONS="--import ./bench/src/stall-probe.ts" \
//     node bench/src/main.ts --full --only overload
//
// In each process whose entry path contains BENCH_STALL_PROBE, a 10 ms interval timer notes
// every gap over 40 ms with the CPU the process used meanwhile and its context switches, and
// every GC pause over 5 ms with the heap's spaces after it. At exit it appends one JSON line
// to bench/results/stalls.jsonl: the stalls, their summed length, the share of it spent on
// a CPU (the rest the process waited to be scheduled) and the share with a GC pause over
// 20 ms inside it.
import { appendFileSync, mkdirSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';

// How often the loop is sampled, in ms: a gap is the time between two samples less this.
const samplingMs = 10;

const match = process.env.BENCH_STALL_PROBE;
const entry = process.argv[1] ?? '';
if (match && entry.includes(match)) probe(new URL('../results/', import.meta.url).pathname);

interface Stall {
  atMs: number;
  gapMs: number;
  cpuMs: number;
  voluntarySwitches: number;
  involuntarySwitches: number;
}

function probe(directory: string): void {
  const startedAt = performance.now();
  const stalls: Stall[] = [];
  const pauses: { atMs: number; kind: number; ms: number; newSpaceMiB: number; oldSpaceMiB: number }[] = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration <= 5) continue;
      const spaces = Object.fromEntries(
        getHeapSpaceStatistics().map((s) => [s.space_name, s.space_used_size]),
      );
      pauses.push({
        atMs: Math.round(e.startTime - startedAt),
        kind: (e as { detail?: { kind?: number } }).detail?.kind ?? 0,
        ms: Math.round(e.duration * 10) / 10,
        newSpaceMiB: Math.round((spaces.new_space ?? 0) / 2 ** 20),
        oldSpaceMiB: Math.round((spaces.old_space ?? 0) / 2 ** 20),
      });
    }
  }).observe({ entryTypes: ['gc'] });

  const loop = monitorEventLoopDelay({ resolution: samplingMs });
  loop.enable();
  let last = performance.now();
  let cpu = process.cpuUsage();
  let usage = process.resourceUsage();
  setInterval(() => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    const nextUsage = process.resourceUsage();
    if (now - last > 40) {
      stalls.push({
        atMs: Math.round(now - startedAt),
        gapMs: Math.round(now - last),
        cpuMs: Math.round((used.user + used.system) / 1000),
        voluntarySwitches: nextUsage.voluntaryContextSwitches - usage.voluntaryContextSwitches,
        involuntarySwitches: nextUsage.involuntaryContextSwitches - usage.involuntaryContextSwitches,
      });
    }
    last = now;
    cpu = process.cpuUsage();
    usage = nextUsage;
  }, samplingMs).unref();

  process.once('exit', () => {
    // The first gap is start-up (module loading), not a stall under load.
    const counted = stalls.filter((s) => s.atMs > 5_000);
    const gapMs = counted.reduce((sum, s) => sum + s.gapMs, 0);
    const onCpuMs = counted.reduce((sum, s) => sum + Math.min(s.cpuMs, s.gapMs), 0);
    // A stall with a GC pause over 20 ms inside it (the observer reports pauses late, by time).
    const withGc = (s: Stall) =>
      pauses.some((p) => p.ms > 20 && p.atMs >= s.atMs - s.gapMs && p.atMs <= s.atMs);
    const afterGcMs = counted.reduce((sum, s) => sum + (withGc(s) ? s.gapMs : 0), 0);
    mkdirSync(directory, { recursive: true });
    appendFileSync(
      `${directory}stalls.jsonl`,
      `${JSON.stringify({
        entry: entry.slice(entry.lastIndexOf('/services/') + 1),
        pid: process.pid,
        aliveMs: Math.round(performance.now() - startedAt),
        stalls: counted.length,
        over100Ms: counted.filter((s) => s.gapMs > 100).length,
        stalledMs: gapMs,
        onCpuShare: gapMs ? Math.round((100 * onCpuMs) / gapMs) / 100 : 0,
        afterGcShare: gapMs ? Math.round((100 * afterGcMs) / gapMs) / 100 : 0,
        loopDelayP99Ms: Math.round(loop.percentile(99) / 1e6 - samplingMs),
        gcPausesOver20Ms: pauses.filter((p) => p.ms > 20).length,
        longestGcMs: Math.max(0, ...pauses.map((p) => p.ms)),
        stallLog: counted,
        gcLog: pauses,
      })}\n`,
    );
  });
}
