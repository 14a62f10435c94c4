import { parseArgs } from 'node:util';
import type { OverloadOptions } from './measure-overload.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import type { BenchDatabase } from './start-bench-mesh.ts';

/** The benchmarks `npm run bench` knows, in the order they run. */
export const benchNames = [
  'tool-hop',
  'ai-sdk',
  'e2e',
  'nosync',
  'pglite',
  'tools',
  'conversation',
  'streams',
  'profile',
  'overload',
] as const;

/** One benchmark's name. */
export type BenchName = (typeof benchNames)[number];

// Diagnostics that only the full run includes, unless named with --only.
const fullOnly: readonly BenchName[] = ['nosync'];

/** What a run measures and how long. */
export interface BenchConfig {
  mode: 'quick' | 'full';
  only: ReadonlySet<BenchName>;
  /** The database of the main end-to-end mesh (PGlite is measured in addition by "pglite"). */
  database: BenchDatabase;
  toolHop: LoopOptions[];
  endToEnd: LoopOptions[];
  toolCounts: number[];
  toolScaling: LoopOptions;
  conversationTurns: number;
  /** Idle ChatStreams held open, one mesh per count. */
  idleStreams: number[];
  streamsPerConnection: number;
  profile: LoopOptions;
  /** Chat at c32, c256 and c1024 against the bounded mesh (and c256 unbounded, for the before/after). */
  overload: OverloadOptions;
}

const loops = (concurrencies: number[], durationMs: number, warmupMs: number): LoopOptions[] =>
  concurrencies.map((concurrency) => ({ concurrency, durationMs, warmupMs }));

/** Reads the command line (and BENCH_FULL=1); `--help` lists the options. */
export function loadBenchConfig(argv = process.argv.slice(2), env = process.env): BenchConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      full: { type: 'boolean', default: env.BENCH_FULL === '1' },
      only: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(
      `usage: npm run bench [-- --full] [--only ${benchNames.join(',')}]\n` +
        'quick (default): short windows and small counts, under 5 minutes; --full or BENCH_FULL=1: the full sizes.',
    );
    process.exit(0);
  }
  const full = values.full;
  const only = new Set<BenchName>();
  const defaults = full ? benchNames : benchNames.filter((name) => !fullOnly.includes(name));
  for (const name of values.only?.split(',').map((s) => s.trim()) ?? defaults) {
    if (!(benchNames as readonly string[]).includes(name)) throw new Error(`unknown benchmark "${name}"`);
    only.add(name as BenchName);
  }
  return {
    mode: full ? 'full' : 'quick',
    only,
    database: 'postgres',
    toolHop: full ? loops([1, 32], 10_000, 2_000) : loops([1, 32], 3_000, 1_000),
    endToEnd: full ? loops([1, 32], 15_000, 3_000) : loops([1, 32], 5_000, 1_500),
    toolCounts: full ? [10, 100, 1_000] : [10, 100],
    toolScaling: full
      ? { concurrency: 32, durationMs: 10_000, warmupMs: 3_000 }
      : { concurrency: 32, durationMs: 4_000, warmupMs: 1_500 },
    conversationTurns: full ? 200 : 50,
    idleStreams: full ? [2_500, 10_000] : [1_000],
    streamsPerConnection: 100,
    profile: full
      ? { concurrency: 32, durationMs: 10_000, warmupMs: 2_000 }
      : { concurrency: 32, durationMs: 5_000, warmupMs: 1_500 },
    overload: {
      concurrencies: [32, 256, 1_024],
      unboundedConcurrencies: [256],
      // BENCH_OVERLOAD_MAX_TURNS=8: another bound than the services' default, on both tiers.
      ...(env.BENCH_OVERLOAD_MAX_TURNS ? { maxTurnsInFlight: Number(env.BENCH_OVERLOAD_MAX_TURNS) } : {}),
      // BENCH_OVERLOAD_ADAPTIVE=false: the fixed bound on both tiers (ADMISSION_ADAPTIVE); default the mesh's (adaptive).
      ...(env.BENCH_OVERLOAD_ADAPTIVE ? { adaptive: env.BENCH_OVERLOAD_ADAPTIVE !== 'false' } : {}),
      ...(full ? { durationMs: 10_000, warmupMs: 3_000 } : { durationMs: 4_000, warmupMs: 1_500 }),
    },
  };
}
