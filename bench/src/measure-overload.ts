import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { eventLoopSamplingMs } from '@toolmesh/telemetry';
import { type GcPauses, gcPausesBetween, gcPausesOf } from './gc-pauses-of.ts';
import type { OverloadJob, OverloadLevel, OverloadMessage } from './overload-job.ts';
import { readCpuMs, readRssBytes } from './process-stats.ts';
import { seedExpectation, seedQuestion } from './seed-question.ts';
import { type BenchDatabase, benchApiKey, startBenchMesh } from './start-bench-mesh.ts';

/** Options of {@link measureOverload}. */
export interface OverloadOptions {
  concurrencies: number[];
  warmupMs: number;
  durationMs: number;
  /** MAX_TURNS_IN_FLIGHT of the gateway and the orchestrator; absent: their defaults. */
  maxTurnsInFlight?: number;
  /** ADMISSION_ADAPTIVE of the gateway and the orchestrator; absent: their default (fixed). */
  adaptive?: boolean;
  /** Also measure these levels on a mesh with no effective bound (the behaviour before admission). */
  unboundedConcurrencies?: number[];
}

/** One level, with the memory of the two processes that hold the turns. */
export interface OverloadRow extends OverloadLevel {
  /** "bounded" (the defaults, or maxTurnsInFlight) or "unbounded". */
  mesh: 'bounded' | 'unbounded';
  /** Peak RSS sampled every 200 ms over the level (warm-up included), bytes. */
  gatewayRssBytes: number;
  orchestratorRssBytes: number;
  /** CPU the gateway used over the level (warm-up included), in cores (1 = one core busy). */
  gatewayCores: number;
  /**
   * Gateway CPU over the recorded window per call answered in it (admitted, refused or failed), ms:
   * under overload most answers are refusals, so this is close to what one refusal costs.
   */
  gatewayCpuMsPerCall: number;
  /** The gateway's event-loop delay p99 over the level (its own /metrics), ms: how long any request waited for it. */
  gatewayLoopDelayP99Ms: number;
  /** The gateway's GC pauses during the level (warm-up included). */
  gatewayGc: GcPauses;
  /** 1-minute load average when the level started: other work on the machine. */
  loadAverage: number;
  /** The admission bound of the gateway and of the orchestrator when the level ended (/metrics). */
  boundAtEnd: { gateway: number; orchestrator: number };
  /**
   * At levels past the bound: {@link probe.callers} more callers in a process of their own, each
   * starting a Chat every {@link probe.paceMs} through the same window. They time the answers as a
   * caller sees them whose event loop is not the one holding a thousand others (the load
   * generator's own delays are in its figures, not in these).
   */
  probe?: OverloadLevel;
}

/** The probe's callers and their pace (ms between the starts of one caller's Chats). */
export const probe = { callers: 8, paceMs: 50 } as const;

// The services' MAX_TURNS_IN_FLIGHT when the run does not set it: below it nothing is refused.
const defaultMaxTurns = 64;

/** Results of {@link measureOverload}. */
export interface OverloadResult {
  maxTurnsInFlight: number | 'default';
  adaptive: boolean | 'default';
  rows: OverloadRow[];
}

// A process's /metrics as text ('' without an endpoint). Reading it resets prom-client's
// event-loop histogram, so one read per level end serves every figure below.
async function scrape(metricsUrl: string | undefined): Promise<string> {
  return metricsUrl ? (await fetch(metricsUrl)).text() : '';
}

// The value of a metric's first series (0 when absent).
function firstValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

// The event-loop delay p99 since the previous read: the metric is the time between two
// samples, so the sampling interval comes off.
function loopDelayP99Ms(text: string): number {
  const seconds = firstValue(text, 'nodejs_eventloop_lag_p99_seconds');
  return seconds ? Math.max(0, seconds * 1000 - eventLoopSamplingMs) : 0;
}

// The admission bound a process reports now.
const admissionBound = (text: string) => firstValue(text, 'toolmesh_turns_admission_limit');

function runLevel(job: OverloadJob, timeoutMs: number, onWindowOpen: () => void): Promise<OverloadLevel> {
  const child = fork(new URL('./overload-worker.ts', import.meta.url), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise<OverloadLevel>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`overload load generator killed after ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', (message: OverloadMessage) => {
      if (message.type === 'window') onWindowOpen();
      if (message.type === 'result') resolve(message.result);
      if (message.type === 'failed') reject(new Error(`overload load generator failed: ${message.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`overload load generator exited with code ${code}`));
    });
    child.send({ type: 'job', job } satisfies OverloadMessage);
  });
}

async function measureMesh(
  database: BenchDatabase,
  kind: OverloadRow['mesh'],
  concurrencies: number[],
  options: OverloadOptions,
): Promise<OverloadRow[]> {
  // The unbounded mesh is the behaviour before admission: no adaptive bound either.
  const env: Record<string, string> =
    kind === 'unbounded' ? { MAX_TURNS_IN_FLIGHT: '1000000', ADMISSION_ADAPTIVE: 'false' } : {};
  if (kind === 'bounded' && options.maxTurnsInFlight)
    env.MAX_TURNS_IN_FLIGHT = String(options.maxTurnsInFlight);
  if (kind === 'bounded' && options.adaptive !== undefined) env.ADMISSION_ADAPTIVE = String(options.adaptive);
  const mesh = await startBenchMesh({ database, env });
  const rows: OverloadRow[] = [];
  try {
    const pids = mesh.pids();
    for (const concurrency of concurrencies) {
      let gatewayRss = 0;
      let orchestratorRss = 0;
      const loadAverage = loadavg()[0] ?? 0;
      const metricsUrl = mesh.mesh.metricsUrls.gateway;
      // Also resets the loop-delay histogram: the level's p99 is read at its end.
      const gcBefore = gcPausesOf(await scrape(metricsUrl));
      const gatewayCpuMs = () => (pids.gateway ? readCpuMs(pids.gateway) : 0);
      const cpuBefore = gatewayCpuMs();
      let cpuAtWindow: number | undefined;
      const startedAt = performance.now();
      const sample = setInterval(() => {
        gatewayRss = Math.max(gatewayRss, pids.gateway ? readRssBytes(pids.gateway) : 0);
        orchestratorRss = Math.max(orchestratorRss, pids.orchestrator ? readRssBytes(pids.orchestrator) : 0);
      }, 200);
      try {
        const job: OverloadJob = {
          address: mesh.gateway,
          apiKey: benchApiKey,
          message: seedQuestion,
          expect: seedExpectation,
          concurrency,
          warmupMs: options.warmupMs,
          durationMs: options.durationMs,
          callersPerConnection: 64,
        };
        // Callers finish the request they are in after the window: up to the chat deadline.
        const timeoutMs = options.warmupMs + options.durationMs + 120_000;
        // Only past the bound, where there are refusals to time: below it the probe's callers
        // would add to the load of the baseline level instead.
        const probed = kind === 'bounded' && concurrency > (options.maxTurnsInFlight ?? defaultMaxTurns);
        const [level, probeLevel] = await Promise.all([
          runLevel(job, timeoutMs, () => {
            cpuAtWindow = gatewayCpuMs();
          }),
          probed
            ? runLevel(
                {
                  ...job,
                  concurrency: probe.callers,
                  callersPerConnection: probe.callers,
                  paceMs: probe.paceMs,
                },
                timeoutMs,
                () => {},
              )
            : undefined,
        ]);
        const cpuAtEnd = gatewayCpuMs();
        const gatewayMetrics = await scrape(metricsUrl);
        const calls = level.admitted + level.rejected + level.errors;
        rows.push({
          ...level,
          mesh: kind,
          gatewayRssBytes: gatewayRss,
          orchestratorRssBytes: orchestratorRss,
          gatewayCores: (cpuAtEnd - cpuBefore) / (performance.now() - startedAt),
          gatewayCpuMsPerCall: cpuAtWindow !== undefined && calls ? (cpuAtEnd - cpuAtWindow) / calls : 0,
          gatewayLoopDelayP99Ms: loopDelayP99Ms(gatewayMetrics),
          gatewayGc: gcPausesBetween(gcBefore, gcPausesOf(gatewayMetrics)),
          loadAverage,
          ...(probeLevel ? { probe: probeLevel } : {}),
          boundAtEnd: {
            gateway: admissionBound(gatewayMetrics),
            orchestrator: admissionBound(await scrape(mesh.mesh.metricsUrls.orchestrator)),
          },
        });
      } finally {
        clearInterval(sample);
      }
    }
  } finally {
    await mesh.stop();
  }
  return rows;
}

/**
 * The mesh as `npm start` runs it (one gateway, one orchestrator, Postgres), driven with
 * Chat at each concurrency from one load-generator process, with paced probe callers beside
 * it in another: how many chats are admitted per second and at what latency, how many are
 * refused and how fast, and what the gateway and the orchestrator hold in memory meanwhile. Optionally the same on a mesh whose bound
 * is never reached, for the before/after.
 */
export async function measureOverload(
  database: BenchDatabase,
  options: OverloadOptions,
): Promise<OverloadResult> {
  const rows = await measureMesh(database, 'bounded', options.concurrencies, options);
  if (options.unboundedConcurrencies?.length) {
    rows.push(...(await measureMesh(database, 'unbounded', options.unboundedConcurrencies, options)));
  }
  return {
    maxTurnsInFlight: options.maxTurnsInFlight ?? 'default',
    adaptive: options.adaptive ?? 'default',
    rows,
  };
}
