import { setTimeout as sleep } from 'node:timers/promises';
import { startCannedModel } from '@toolmesh/testkit';
import { forkLoadWorker } from './fork-load-worker.ts';
import type { IdleStreamsJobResult } from './load-job.ts';
import { readRssBytes } from './process-stats.ts';
import { type NodeMemory, readNodeMemory } from './read-node-memory.ts';
import { seedQuestion } from './seed-question.ts';
import { type BenchDatabase, benchApiKey, startBenchMesh } from './start-bench-mesh.ts';

/** Results of {@link measureIdleStreams}. */
export interface IdleStreamsResult {
  streams: number;
  /** Streams whose turn reached the model (so they were open end to end). */
  pendingAtModel: number;
  endedEarly: number;
  firstError?: string;
  /** Seconds until every stream's turn was waiting on the model (or progress stalled). */
  openSeconds: number;
  gatewayRssBytes: { idle: number; open: number };
  orchestratorRssBytes: { idle: number; open: number };
  /** What of the gateway's memory is JS heap and Buffers (the rest of RSS is native: HTTP/2, code, V8). */
  gatewayMemory: { idle: NodeMemory; open: NodeMemory };
}

const rssOf = (pid: number | undefined) => (pid ? readRssBytes(pid) : 0);

/**
 * Gateway memory with `streams` ChatStreams held open: the model never answers,
 * so every turn stays pending (the orchestrator's model timeout and conversation
 * lease are raised so nothing ends or renews meanwhile). RSS is read from
 * /proc/<pid>/status once every turn is waiting on the model.
 */
export async function measureIdleStreams(
  streams: number,
  perConnection: number,
  database: BenchDatabase,
): Promise<IdleStreamsResult> {
  const model = await startCannedModel(() => new Promise(() => {}));
  const long = '1800000';
  const mesh = await startBenchMesh({
    database,
    model: { baseUrl: model.baseUrl },
    // Every held stream is a turn in flight of the one bench user: neither the admission bound
    // nor the per-user cap on open streams may refuse them.
    env: { MAX_TURNS_IN_FLIGHT: String(streams + 100), MAX_OPEN_STREAMS_PER_USER: String(streams + 100) },
    serviceEnv: { orchestrator: { MODEL_TIMEOUT_MS: long, CONVERSATION_LEASE_MS: long } },
  });
  try {
    const pids = mesh.pids();
    await sleep(1_000);
    const idle = { gateway: rssOf(pids.gateway), orchestrator: rssOf(pids.orchestrator) };
    const gatewayMetrics = mesh.mesh.metricsUrls.gateway;
    const idleMemory = await readNodeMemory(gatewayMetrics);
    const started = performance.now();
    const worker = forkLoadWorker(
      {
        type: 'idle-streams',
        address: mesh.gateway,
        apiKey: benchApiKey,
        message: seedQuestion,
        streams,
        perConnection,
        batchPauseMs: 50,
      },
      600_000,
    );
    // Open means the turn went all the way through the mesh and waits on the model. A
    // stall (no new turn at the model for 20 s) ends the wait: something refuses streams.
    let seen = 0;
    let progressAt = Date.now();
    while (model.requests.length < streams && Date.now() - progressAt < 20_000) {
      await Promise.race([sleep(250), worker.result.catch(() => {})]);
      if (model.requests.length > seen) {
        seen = model.requests.length;
        progressAt = Date.now();
      }
    }
    const openSeconds = (performance.now() - started) / 1000;
    const pendingAtModel = model.requests.length;
    await sleep(2_000);
    const open = { gateway: rssOf(pids.gateway), orchestrator: rssOf(pids.orchestrator) };
    const openMemory = await readNodeMemory(gatewayMetrics);
    worker.send({ type: 'release' });
    const held = (await worker.result) as IdleStreamsJobResult;
    return {
      streams,
      pendingAtModel,
      endedEarly: held.endedEarly,
      ...(held.firstError ? { firstError: held.firstError } : {}),
      openSeconds,
      gatewayRssBytes: { idle: idle.gateway, open: open.gateway },
      orchestratorRssBytes: { idle: idle.orchestrator, open: open.orchestrator },
      gatewayMemory: { idle: idleMemory, open: openMemory },
    };
  } finally {
    await model.close();
    await mesh.stop();
  }
}
