import { agentBaseline } from './agent-baseline.ts';
import type { BenchReport } from './bench-report.ts';
import { cpuPerChat } from './cpu-per-chat.ts';
import { cpuRoleCells, cpuRoleHead } from './format-cpu-roles.ts';
import { formatOverload } from './format-overload.ts';
import { formatProfile } from './format-profile.ts';
import { formatScaling } from './format-scaling.ts';
import { formatTable, ms, num, pct, ratio } from './format-table.ts';
import { formatTargets } from './format-targets.ts';
import type { LoopJobResult } from './load-job.ts';
import type { ChatRun } from './measure-chats.ts';
import { chatSliceMs, type EndToEndResult } from './measure-end-to-end.ts';
import { sliceMs } from './measure-tool-hop.ts';
import { rawP50Ms } from './tool-hop-baseline.ts';

function toolHopSection(report: BenchReport): string {
  const hop = report.toolHop;
  if (!hop) return '';
  const rows = hop.rows.map((row) => {
    const raw = rawP50Ms(hop.rows, row.result.concurrency);
    const r = row.result;
    return [
      row.path,
      String(r.concurrency),
      num(r.perSecond),
      ms(r.latency.p50Ms),
      ms(r.latency.p99Ms),
      raw ? ratio(r.latency.p50Ms / raw) : '–',
      num(row.cpuUsPerCall.server),
      num(row.cpuUsPerCall.client),
      String(r.errors),
    ];
  });
  const credential = hop.credential;
  const op = (name: string, r: LoopJobResult) =>
    `${name} ${ms(r.latency.p50Ms)} ms p50, ${ms(r.latency.meanMs)} ms mean (${num(r.perSecond)}/s, ${r.errors} errors)`;
  return [
    `## 1. Tool hop (request ${hop.requestBytes} B, response ${hop.responseBytes} B)`,
    '',
    formatTable(
      [
        'path',
        'conc',
        'calls/s',
        'p50 ms',
        'p99 ms',
        'p50 vs raw',
        'server CPU µs/call',
        'caller CPU µs/call',
        'errors',
      ],
      rows,
    ),
    '',
    `The paths of a level take turns in ${sliceMs} ms slices in one load generator, round after round (each round starting one path further on), so p50 vs raw compares them over the same minutes. CPU per call is each process's over the path's slices divided by the calls answered: the server's, and the load generator's (the calling side).`,
    ...(credential
      ? [
          '',
          `Mesh credential of one call, in one process at c1: ${op('sign', credential.sign)}; ${op('verify', credential.verify)}.`,
        ]
      : []),
  ].join('\n');
}

function endToEndFacts(e: EndToEndResult): string[] {
  const counters = e.runs.reduce<Record<string, number>>((all, run) => {
    for (const [k, v] of Object.entries(run.result.counters)) all[k] = (all[k] ?? 0) + v;
    return all;
  }, {});
  const toolCalls = counters.toolCalls ?? 0;
  const chats = counters.chats ?? 0;
  const parts = [
    toolCalls && e.system !== 'AI SDK in-process'
      ? `${pct((counters.cachedToolCalls ?? 0) / toolCalls)} of tool calls answered from the read cache`
      : '',
    chats ? `${num((counters.promptTokens ?? 0) / chats)} prompt tokens per chat` : '',
    e.sqlTransactionsPerChat ? `${num(e.sqlTransactionsPerChat, 1)} SQL transactions per chat` : '',
  ].filter(Boolean);
  return parts.length ? [`- ${e.system}: ${parts.join('; ')}.`] : [];
}

// Each system's runs, a mesh's followed by the agent's measured in turns with it.
function systemRuns(results: EndToEndResult[]): { system: string; run: ChatRun; mesh?: EndToEndResult }[] {
  return results.flatMap((e) => [
    ...e.runs.map((run) => ({
      system: e.system,
      run,
      ...(e.system === 'AI SDK in-process' ? {} : { mesh: e }),
    })),
    ...(e.agentInTurns ?? []).map((run) => ({ system: `AI SDK in-process, in turns with ${e.system}`, run })),
  ]);
}

function endToEndSection(results: EndToEndResult[]): string {
  if (!results.length) return '';
  const all = systemRuns(results);
  const rows = all.map(({ system, run, mesh }) => {
    const r = run.result;
    const base = mesh ? agentBaseline({ endToEnd: results }, mesh, r.concurrency) : undefined;
    return [
      system,
      String(r.concurrency),
      num(r.perSecond),
      ms(r.latency.p50Ms),
      ms(r.latency.p99Ms),
      base ? ratio(r.perSecond / base.perSecond) : '–',
      ms(cpuPerChat(run).total),
      pct(run.cpu.machineBusy),
      String(r.errors),
    ];
  });
  const cpuRows = all.map(({ system, run }) => [
    system,
    String(run.result.concurrency),
    ...cpuRoleCells(run),
  ]);
  const inTurns = results.some((e) => e.agentInTurns?.length)
    ? [
        '',
        `A mesh and the agent "in turns with" it ran from one load generator, taking turns in ${num(chatSliceMs / 1000, 1)} s slices round after round at each level, so "vs AI SDK" compares them over the same minutes; each one's CPU is read around its own slices.`,
      ]
    : [];
  return [
    '## 2. End to end: the seed question (3 model calls, 3 tool calls)',
    '',
    formatTable(
      ['system', 'conc', 'chats/s', 'p50 ms', 'p99 ms', 'vs AI SDK', 'CPU ms/chat', 'machine busy', 'errors'],
      rows,
    ),
    ...inTurns,
    '',
    'CPU milliseconds per chat by role (load generator: the client; for the AI SDK, the whole agent):',
    '',
    formatTable(['system', 'conc', ...cpuRoleHead], cpuRows),
    '',
    ...results.flatMap(endToEndFacts),
  ].join('\n');
}

/** The report as markdown: targets first, then each benchmark's table. */
export function formatReport(report: BenchReport): string {
  const quick =
    ' Quick set: short windows, 10/100 extra tools, 50 turns, 1,000 idle streams ' +
    '(`--full`: 1,000 tools, 200 turns, 2,500 and 10,000 streams).';
  const failures = report.failures.length
    ? ['## Failures', '', ...report.failures.map((f) => `- ${f.bench}: ${f.message.split('\n')[0]}`), '']
    : [];
  return [
    `# toolmesh benchmarks — ${report.mode} run`,
    '',
    `${report.startedAt}, Node ${report.node}, ${report.cpus} CPUs, load average ${num(report.loadAverageAtStart, 2)} ` +
      `at the start, ${report.durationSeconds} s.${report.mode === 'quick' ? quick : ''}`,
    '',
    '## Targets',
    '',
    formatTargets(report),
    '',
    toolHopSection(report),
    '',
    endToEndSection(report.endToEnd),
    '',
    formatScaling(report),
    '',
    formatProfile(report),
    '',
    report.overload ? formatOverload(report.overload) : '',
    '',
    ...failures,
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/\n*$/, '\n');
}
