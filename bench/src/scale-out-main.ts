// `node bench/src/scale-out-main.ts [--full]`: the mesh with 1 and then 3
// orchestrators behind one gateway on one Postgres, the same bounded load on each; prints a
// markdown table and writes it to bench/results/scale-out-latest.{md,json}.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { formatScaleOut, measureScaleOut } from './measure-scale-out.ts';

const args = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '16' },
    orchestrators: { type: 'string', default: '1,3' },
  },
}).values;
const full = args.full || process.env.BENCH_FULL === '1';
const concurrency = Number(args.concurrency);
const counts = String(args.orchestrators).split(',').map(Number);
if (!Number.isInteger(concurrency) || concurrency < 1 || counts.some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('usage: scale-out-main.ts [--full] [--concurrency 16] [--orchestrators 1,3]');
  process.exit(2);
}
const loop = full
  ? { concurrency, durationMs: 20_000, warmupMs: 5_000 }
  : { concurrency, durationMs: 8_000, warmupMs: 3_000 };
const startedAt = new Date().toISOString();
console.error(
  `[scale-out] ${full ? 'full' : 'quick'}: orchestrators ${counts.join(', ')}, c${concurrency}, ` +
    `${loop.durationMs / 1000} s windows; ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)}`,
);
const runs = await measureScaleOut(counts, loop);
const markdown =
  `## Scale-out (${full ? 'full' : 'quick'}, ${startedAt}, Node ${process.version}, ${availableParallelism()} cores)\n\n` +
  `${formatScaleOut(runs)}`;
const resultsDir = new URL('../results/', import.meta.url).pathname;
mkdirSync(resultsDir, { recursive: true });
writeFileSync(`${resultsDir}scale-out-latest.md`, markdown);
writeFileSync(
  `${resultsDir}scale-out-latest.json`,
  `${JSON.stringify({ startedAt, loop, runs }, null, 2)}\n`,
);
process.stdout.write(markdown);
const failed = runs.filter((r) => r.errors > 0 && r.chatsPerSecond === 0);
process.exit(failed.length ? 1 : 0);
