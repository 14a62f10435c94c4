import { measureChats } from './measure-chats.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import { seedExpectation, seedQuestion } from './seed-question.ts';
import { benchApiKey, startBenchMesh } from './start-bench-mesh.ts';

/** The mesh with one number of orchestrators, at one load level. */
export interface ScaleOutRun {
  orchestrators: number;
  concurrency: number;
  chatsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  firstError?: string;
  /** Chat RPCs each orchestrator served over the whole run (warm-ups included), in process order. */
  servedByOrchestrator: number[];
  /** CPU milliseconds per answered chat: all orchestrators together, the gateway, Postgres, everything. */
  cpuPerChatMs: { orchestrators: number; gateway: number; postgres: number; total: number };
  /** Busy share of both cores in the window. */
  machineBusy: number;
  /** Postgres backends serving the mesh's database, the most at once in the window (every pool of every process). */
  sqlConnections: number;
  /** SQL transactions (pg_stat_database xact_commit + xact_rollback) per chat, whole run. */
  sqlTransactionsPerChat?: number;
}

// ChatService/Chat calls an orchestrator answered, read from its /metrics.
async function chatsServed(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return text
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('grpc_server_handled_total{') &&
        l.includes('grpc_service="toolmesh.v1.ChatService"') &&
        l.includes('grpc_method="Chat"'),
    )
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/**
 * The same load (the seed question, new conversations, one gateway) on a mesh with 1 and then
 * N orchestrators on one Postgres: chats/s, latency, the spread over the orchestrators, CPU and
 * SQL per chat. One mesh at a time: the machine's cores are what is shared.
 */
export async function measureScaleOut(counts: number[], loop: LoopOptions): Promise<ScaleOutRun[]> {
  const runs: ScaleOutRun[] = [];
  for (const orchestrators of counts) {
    const bench = await startBenchMesh({ database: 'postgres', orchestrators });
    const names = bench.mesh.orchestratorAddresses.map((_, i) =>
      i ? `orchestrator#${i + 1}` : 'orchestrator',
    );
    let measured: Awaited<ReturnType<typeof measureChats>>;
    let served: number[];
    let sqlConnections = 0;
    try {
      measured = await measureChats(
        {
          kind: 'gateway-chat',
          address: bench.gateway,
          apiKey: benchApiKey,
          message: seedQuestion,
          expect: seedExpectation,
        },
        [loop],
        {
          pids: bench.pids(),
          sqlBackends: () => {
            const pids = bench.sqlBackends();
            sqlConnections = Math.max(sqlConnections, pids.length);
            return pids;
          },
        },
      );
      served = await Promise.all(names.map((n) => chatsServed(bench.mesh.metricsUrls[n] ?? '')));
    } catch (error) {
      await bench.stop();
      throw error;
    }
    const sql = await bench.stop();
    const run = measured.runs[0];
    if (!run) throw new Error('no measured run');
    const chats = run.result.ok || 1;
    const cpu = (pick: (name: string) => boolean) =>
      Object.entries(run.cpu.byProcess).reduce((t, [name, ms]) => (pick(name) ? t + ms : t), 0) / chats;
    runs.push({
      orchestrators,
      concurrency: loop.concurrency,
      chatsPerSecond: run.result.perSecond,
      p50Ms: run.result.latency.p50Ms,
      p99Ms: run.result.latency.p99Ms,
      errors: run.result.errors,
      ...(run.result.firstError ? { firstError: run.result.firstError } : {}),
      servedByOrchestrator: served,
      cpuPerChatMs: {
        orchestrators: cpu((n) => n.startsWith('orchestrator')),
        gateway: cpu((n) => n.startsWith('gateway')),
        postgres: cpu((n) => n === 'postgres backends'),
        total: cpu(() => true),
      },
      machineBusy: run.cpu.machineBusy,
      sqlConnections,
      ...(sql && measured.totalCalls > 0
        ? { sqlTransactionsPerChat: sql.transactions / measured.totalCalls }
        : {}),
    });
  }
  return runs;
}

/** The runs as a markdown table. */
export function formatScaleOut(runs: readonly ScaleOutRun[]): string {
  const header =
    '| orchestrators | concurrency | chats/s | p50 ms | p99 ms | errors | chats per orchestrator | CPU ms/chat: orchestrators / gateway / Postgres / all | cores busy | SQL connections | SQL transactions/chat |\n' +
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |\n';
  const rows = runs.map((r) =>
    [
      r.orchestrators,
      r.concurrency,
      r.chatsPerSecond.toFixed(1),
      r.p50Ms.toFixed(0),
      r.p99Ms.toFixed(0),
      r.errors,
      r.servedByOrchestrator.join(' / '),
      [r.cpuPerChatMs.orchestrators, r.cpuPerChatMs.gateway, r.cpuPerChatMs.postgres, r.cpuPerChatMs.total]
        .map((v) => v.toFixed(1))
        .join(' / '),
      `${(r.machineBusy * 100).toFixed(0)} %`,
      r.sqlConnections,
      r.sqlTransactionsPerChat?.toFixed(1) ?? '–',
    ].join(' | '),
  );
  return `${header}${rows.map((r) => `| ${r} |`).join('\n')}\n`;
}
