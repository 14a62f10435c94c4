// `npm run bench`: runs the selected benchmarks one after the other (never two at
// once: the machine has 2 cores), prints the tables and writes them to bench/results/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { BenchReport } from './bench-report.ts';
import { type BenchName, loadBenchConfig } from './config.ts';
import { formatReport } from './format-report.ts';
import type { ChatRun } from './measure-chats.ts';
import { type EndToEndResult, measureAiSdkEndToEnd, measureMeshEndToEnd } from './measure-end-to-end.ts';
import { measureIdleStreams } from './measure-idle-streams.ts';
import { measureLongConversation } from './measure-long-conversation.ts';
import { measureOverload } from './measure-overload.ts';
import { measureProfile } from './measure-profile.ts';
import { measureToolHop } from './measure-tool-hop.ts';
import { measureToolScaling } from './measure-tool-scaling.ts';

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
// The agent at c32, last measured: each mesh is compared with the agent right before and right
// after it (measured again after each mesh), since the VM's speed drifts by the minute.
const c32 = config.endToEnd.filter((loop) => loop.concurrency === 32);
let agentAtC32: ChatRun | undefined;
await step('ai-sdk', async () => {
  const agent = await measureAiSdkEndToEnd(config.endToEnd);
  agentAtC32 = agent.runs.find((run) => run.result.concurrency === 32);
  report.endToEnd.push(agent);
});
async function meshEndToEnd(measure: () => Promise<EndToEndResult>): Promise<void> {
  const before = agentAtC32;
  const mesh = await measure();
  report.endToEnd.push(mesh);
  if (!before || !c32.length) return;
  log('ai-sdk at c32 again …');
  const after = (await measureAiSdkEndToEnd(c32)).runs[0];
  if (!after) return;
  mesh.agentAround = { before, after };
  agentAtC32 = after;
}
await step('e2e', () => meshEndToEnd(() => measureMeshEndToEnd(config.database, config.endToEnd)));
await step('nosync', () => meshEndToEnd(() => measureMeshEndToEnd('postgres', config.endToEnd, false)));
await step('pglite', () => meshEndToEnd(() => measureMeshEndToEnd('pglite', config.endToEnd)));
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
