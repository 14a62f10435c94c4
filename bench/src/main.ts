// `npm run bench`: runs the selected benchmarks one after the other (never two at
// once: the machine has 2 cores), prints the tables and writes them to bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { BenchReport } from './bench-report.ts';
import { type BenchName, loadBenchConfig } from './config.ts';
import { formatReport } from './format-report.ts';
import { measureAiSdkEndToEnd, measureMeshEndToEnd } from './measure-end-to-end.ts';
import { measureIdleStreams } from './measure-idle-streams.ts';
import { measureLongConversation } from './measure-long-conversation.ts';
import { measureOverload } from './measure-overload.ts';
import { measureProfile } from './measure-profile.ts';
import { measureToolHop } from './measure-tool-hop.ts';
import { measureToolScaling } from './measure-tool-scaling.ts';
import type { BenchDatabase } from './start-bench-mesh.ts';

const config = loadBenchConfig();
const resultsDir = new URL('../results/', import.meta.url).pathname;
const started = performance.now();
const report: BenchReport = {
  mode: config.mode,
  startedAt: new Date().toISOString(),
  durationSeconds: 0,
  node: process.version,
  cpus: availableParallelism(),
  loadAverageAtStart: loadavg()[0] ?? 0,
  endToEnd: [],
  idleStreams: [],
  failures: [],
};

const log = (message: string) =>
  console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);

// One failing benchmark is reported, and the others still run.
async function step(name: BenchName, run: () => Promise<void>): Promise<void> {
  if (!config.only.has(name)) return;
  log(`${name} …`);
  try {
    await run();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    report.failures.push({ bench: name, message });
    log(`${name} failed: ${message}`);
  }
}

log(`${config.mode} run: ${[...config.only].join(', ')}`);
await step('tool-hop', async () => {
  report.toolHop = await measureToolHop(config.toolHop);
});
// The agent is measured in turns with each mesh (slices from one load generator), since the VM's
// speed drifts by the minute; alone only when no mesh runs.
const meshSteps: readonly BenchName[] = ['e2e', 'nosync', 'pglite'];
const agentInTurns = config.only.has('ai-sdk');
if (!meshSteps.some((name) => config.only.has(name))) {
  await step('ai-sdk', async () => {
    report.endToEnd.push(await measureAiSdkEndToEnd(config.endToEnd));
  });
}
async function meshEndToEnd(database: BenchDatabase, synchronousCommit = true): Promise<void> {
  report.endToEnd.push(
    await measureMeshEndToEnd(database, config.endToEnd, { synchronousCommit, agentInTurns }),
  );
}
await step('e2e', () => meshEndToEnd(config.database));
await step('nosync', () => meshEndToEnd('postgres', false));
await step('pglite', () => meshEndToEnd('pglite'));
await step('tools', async () => {
  report.toolScaling = await measureToolScaling(config.toolCounts, config.toolScaling, config.database);
});
await step('conversation', async () => {
  report.conversation = await measureLongConversation(config.database, config.conversationTurns);
});
await step('streams', async () => {
  for (const streams of config.idleStreams) {
    report.idleStreams.push(await measureIdleStreams(streams, config.streamsPerConnection, config.database));
  }
});
await step('profile', async () => {
  const directory = new URL(`../profiles/${report.startedAt.replaceAll(':', '-')}/`, import.meta.url)
    .pathname;
  report.profile = await measureProfile(config.database, config.profile, directory);
});
await step('overload', async () => {
  report.overload = await measureOverload(config.database, config.overload);
});
report.durationSeconds = Math.round((performance.now() - started) / 1000);

const markdown = formatReport(report);
mkdirSync(resultsDir, { recursive: true });
writeFileSync(`${resultsDir}${config.mode}-latest.md`, markdown);
writeFileSync(`${resultsDir}${config.mode}-latest.json`, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(markdown);
log(`done in ${report.durationSeconds} s; written to bench/results/${config.mode}-latest.{md,json}`);
process.exit(report.failures.length ? 1 : 0);
