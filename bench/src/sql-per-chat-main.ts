// SQL transactions per chat, by concurrency: the mesh as the `e2e` benchmark starts it
// on a throwaway Postgres database; a fixed number of seed chats at c1, then at c32,
// each between two quiet pauses long enough for every backend to report its
// statistics (Postgres 15 reports an idle backend's counts within 10 s). A quiet window
// of the same length measures the background (replica liveness, reconciler passes),
// which is subtracted. Usage: node bench/src/sql-per-chat-main.ts [--chats 320]
import { parseArgs } from 'node:util';
import { createGatewayChatTarget } from './create-gateway-chat-target.ts';
import { defaultAdminUrl, readSqlActivity } from './read-sql-activity.ts';
import { seedExpectation, seedQuestion } from './seed-question.ts';
import { benchApiKey, startBenchMesh } from './start-bench-mesh.ts';

const { values } = parseArgs({ options: { chats: { type: 'string' }, quietMs: { type: 'string' } } });
const chatsAtC32 = Number(values.chats ?? 320);
const quietMs = Number(values.quietMs ?? 12_000);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const bench = await startBenchMesh({ database: 'postgres' });
try {
  const database = bench.sqlDatabase;
  if (!database) throw new Error('the mesh runs on no Postgres database');
  const transactions = async () => (await readSqlActivity(defaultAdminUrl, database)).transactions;
  const target = createGatewayChatTarget(bench.gateway, benchApiKey, seedQuestion, seedExpectation);

  const run = async (concurrency: number, chats: number) => {
    let left = chats;
    const caller = async () => {
      while (left > 0) {
        left--;
        await target.call();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, caller));
  };
  // Warm-up: connections, JIT, the read cache.
  await run(4, 16);
  await sleep(quietMs);

  const measure = async (label: string, work: () => Promise<void>, chats: number) => {
    const before = await transactions();
    const started = performance.now();
    await work();
    const ms = performance.now() - started;
    await sleep(quietMs);
    const after = await transactions();
    return { label, chats, ms, transactions: after - before };
  };
  const results = [
    await measure('c1', () => run(1, 32), 32),
    await measure('quiet', () => sleep(10_000), 0),
    await measure('c32', () => run(32, chatsAtC32), chatsAtC32),
  ];
  const quiet = results[1];
  const backgroundPerMs = quiet ? quiet.transactions / (quiet.ms + quietMs) : 0;
  console.log(
    `database ${database}; quiet pauses ${quietMs} ms; background ${(backgroundPerMs * 1000).toFixed(2)} transactions/s`,
  );
  console.log('| run | chats | seconds | transactions | per chat | per chat without background |');
  console.log('| --- | ----- | ------- | ------------ | -------- | --------------------------- |');
  for (const r of results) {
    if (!r.chats) continue;
    const background = backgroundPerMs * (r.ms + quietMs);
    console.log(
      `| ${r.label} | ${r.chats} | ${(r.ms / 1000).toFixed(1)} | ${r.transactions} | ${(r.transactions / r.chats).toFixed(2)} | ${((r.transactions - background) / r.chats).toFixed(2)} |`,
    );
  }
} finally {
  await bench.stop();
}
