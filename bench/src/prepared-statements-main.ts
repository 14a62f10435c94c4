// `node bench/src/prepared-statements-main.ts [--full] [--database postgres,pglite]`: for each
// database, two meshes side by side, one with DATABASE_PREPARED_STATEMENTS=off, driven in turns
// at c32 with the seed question; prints chats/s and CPU per chat by role for both, as markdown.
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { cpuPerChat } from './cpu-per-chat.ts';
import { cpuRoleCells, cpuRoleHead } from './format-cpu-roles.ts';
import { formatTable, ms, num } from './format-table.ts';
import { measureChatsInTurns } from './measure-chats-in-turns.ts';
import { chatSliceMs, meshChatSystem } from './measure-end-to-end.ts';
import { type BenchDatabase, type BenchMesh, startBenchMesh } from './start-bench-mesh.ts';

const args = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    database: { type: 'string', default: 'postgres,pglite' },
  },
}).values;
const full = args.full || process.env.BENCH_FULL === '1';
const databases = String(args.database).split(',') as BenchDatabase[];
if (databases.some((d) => d !== 'postgres' && d !== 'pglite')) {
  console.error('usage: prepared-statements-main.ts [--full] [--database postgres,pglite]');
  process.exit(2);
}
const loop = full
  ? { concurrency: 32, durationMs: 20_000, warmupMs: 3_000 }
  : { concurrency: 32, durationMs: 7_500, warmupMs: 2_000 };
console.error(
  `[prepared] ${full ? 'full' : 'quick'}: ${databases.join(', ')}, c32, ${loop.durationMs / 1000} s each in ` +
    `${chatSliceMs / 1000} s turns; ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)}`,
);

const rows: string[][] = [];
let failed = false;
for (const database of databases) {
  const meshes: BenchMesh[] = [];
  try {
    for (const prepared of ['on', 'off']) {
      meshes.push(await startBenchMesh({ database, env: { DATABASE_PREPARED_STATEMENTS: prepared } }));
    }
    const [on, off] = meshes as [BenchMesh, BenchMesh];
    const measured = await measureChatsInTurns(
      [meshChatSystem('prepared', on), meshChatSystem('unnamed', off)],
      [loop],
      chatSliceMs,
    );
    measured.forEach((m, i) => {
      const run = m.runs[0];
      if (!run) return;
      if (run.result.errors) failed = true;
      rows.push([
        database,
        i === 0 ? 'on' : 'off',
        num(run.result.perSecond),
        ms(run.result.latency.p50Ms),
        ms(cpuPerChat(run).total),
        ...cpuRoleCells(run),
        String(run.result.errors),
      ]);
    });
  } finally {
    await Promise.all(meshes.map((mesh) => mesh.stop()));
  }
}
process.stdout.write(
  `${formatTable(
    ['database', 'prepared', 'chats/s', 'p50 ms', 'CPU ms/chat', ...cpuRoleHead, 'errors'],
    rows,
  )}\n`,
);
process.exit(failed ? 1 : 0);
