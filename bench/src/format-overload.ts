import { formatTable, ms, num, pct } from './format-table.ts';
import { type OverloadResult, probe } from './measure-overload.ts';

const mib = (bytes: number) => num(bytes / 2 ** 20);

/** The overload curve as a markdown section. */
export function formatOverload(result: OverloadResult): string {
  const rows = result.rows.map((r) => {
    const attempts = r.admitted + r.rejected;
    return [
      r.mesh,
      String(r.concurrency),
      num(r.admittedPerSecond),
      ms(r.admittedLatency.p50Ms),
      ms(r.admittedLatency.p99Ms),
      attempts ? pct(r.rejected / attempts) : '–',
      r.rejected ? `${ms(r.rejectionLatency.p50Ms)} / ${ms(r.rejectionLatency.p99Ms)}` : '–',
      r.probe?.rejected
        ? `${ms(r.probe.rejectionLatency.p50Ms)} / ${ms(r.probe.rejectionLatency.p99Ms)} (${r.probe.rejected})`
        : '–',
      Object.entries(r.rejectedBy)
        .map(([tier, n]) => `${tier} ${n}`)
        .join(', ') || '–',
      r.rejected ? ms(r.retryHint.p50Ms) : '–',
      `${r.boundAtEnd.gateway} / ${r.boundAtEnd.orchestrator}`,
      `${mib(r.gatewayRssBytes)} + ${mib(r.orchestratorRssBytes)}`,
      num(r.gatewayCores, 2),
      num(r.gatewayCpuMsPerCall, 2),
      ms(r.gatewayLoopDelayP99Ms),
      `${num(r.gatewayGc.totalMs)} / ${r.gatewayGc.over10Ms} / ${r.gatewayGc.over100Ms}`,
      `${num(r.generatorCores, 2)} / ${ms(r.generatorLoopDelayP99Ms)}`,
      num(r.loadAverage, 1),
      String(r.errors),
    ];
  });
  return [
    `## Overload (MAX_TURNS_IN_FLIGHT ${result.maxTurnsInFlight}, ADMISSION_ADAPTIVE ${result.adaptive} on the gateway and the orchestrator)`,
    '',
    formatTable(
      [
        'mesh',
        'conc',
        'admitted chats/s',
        'p50 ms',
        'p99 ms',
        'rejected',
        'rejection p50 / p99 ms',
        'probe: rejection p50 / p99 ms (n)',
        'refused by',
        'retry hint p50 ms',
        'bound at end gw / orch',
        'RSS MiB gw + orch (peak)',
        'gateway cores',
        'gateway CPU ms per call',
        'gateway loop delay p99 ms',
        'gateway GC pauses: ms in all / over 10 ms / over 100 ms',
        'load generator cores / loop delay p99 ms',
        'load avg',
        'errors',
      ],
      rows,
    ),
    ...result.rows
      .filter((r) => r.firstError)
      .map((r) => `- c${r.concurrency} (${r.mesh}): first error: ${r.firstError}`),
    '',
    `The probe, at levels past the bound: ${probe.callers} more callers in a process of their own, each starting a Chat every ${probe.paceMs} ms`,
    "through the window, retry hints ignored: its refusals are timed by an idle event loop, the load generator's by one holding every other caller.",
  ].join('\n');
}
