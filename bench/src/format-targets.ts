import type { BenchReport } from './bench-report.ts';
import { cpuPerChat } from './cpu-per-chat.ts';
import { formatTable, mib, num, pct, ratio } from './format-table.ts';
import type { LongConversationResult } from './measure-long-conversation.ts';

type Row = [target: string, aim: string, measured: string, met: string];

function toolHopRow(report: BenchReport): Row[] {
  const hop = report.toolHop?.rows;
  const raw = hop?.find((r) => r.path.startsWith('raw') && r.result.concurrency === 1);
  const executor = hop?.find((r) => r.path.includes('executor') && r.result.concurrency === 1);
  if (!raw || !executor) return [];
  const x = executor.result.latency.p50Ms / raw.result.latency.p50Ms;
  return [['tool hop p50 vs raw grpc-js (executor, c1)', '≤ 1.3×', ratio(x), x <= 1.3 ? 'yes' : 'no']];
}

function endToEndRows(report: BenchReport): Row[] {
  const aiSdk = report.endToEnd.find((e) => e.system === 'AI SDK in-process');
  const base = aiSdk?.runs.find((r) => r.result.concurrency === 32);
  if (!base) return [];
  return report.endToEnd
    .filter((e) => e !== aiSdk && !e.system.includes('synchronous_commit'))
    .flatMap((mesh): Row[] => {
      const run = mesh.runs.find((r) => r.result.concurrency === 32);
      if (!run) return [];
      const x = run.result.perSecond / base.result.perSecond;
      const byCpu = cpuPerChat(base).total / cpuPerChat(run).total;
      return [
        [
          `${mesh.system} vs AI SDK chats/s at c32`,
          '≥ 0.5×',
          `${ratio(x)} (by CPU per chat: ${ratio(byCpu)})`,
          x >= 0.5 ? 'yes' : 'no',
        ],
      ];
    });
}

// Flat: over the last 20 turns at least (or the last half of a shorter run), every
// prompt stays within 10 % of the largest.
function conversationRow(conv: LongConversationResult | undefined): Row[] {
  if (!conv?.turns.length) return [];
  const tokens = conv.turns.map((t) => t.promptTokens);
  const max = Math.max(...tokens);
  // The first turn from which every prompt is within 10 % of the largest.
  let from = tokens.length;
  while (from > 0 && (tokens[from - 1] ?? 0) >= max * 0.9) from--;
  const flat = from <= Math.max(tokens.length - 20, tokens.length / 2);
  const measured =
    `turn 1: ${num(tokens[0] ?? 0)}; from turn ${from + 1} on: ${num(Math.min(...tokens.slice(from)))}–` +
    `${num(max)}; last: ${num(tokens.at(-1) ?? 0)}; ${conv.errors} turns failed`;
  const met =
    flat && !conv.errors ? `yes (flat from turn ${from + 1})` : flat ? 'flat, but turns fail' : 'no';
  return [[`prompt tokens over ${tokens.length + conv.errors} turns`, 'flat', measured, met]];
}

function toolScalingRow(report: BenchReport): Row[] {
  const first = report.toolScaling?.[0];
  const last = report.toolScaling?.at(-1);
  if (!first || !last || first === last) return [];
  const cost = 1 - last.run.result.perSecond / first.run.result.perSecond;
  // CPU per chat barely moves with other work on the machine; throughput does.
  const cpuCost = 1 - cpuPerChat(first.run).total / cpuPerChat(last.run).total;
  const met = cost < 0.1 ? 'yes' : 'no';
  return [
    [
      `throughput cost of ${num(last.extraTools)} tools vs ${num(first.extraTools)}`,
      '< 10 % (at 1,000)',
      `${pct(cost)} (by CPU per chat: ${pct(cpuCost)})`,
      last.extraTools >= 1_000 ? met : `${met} (quick: ${num(last.extraTools)} tools)`,
    ],
  ];
}

function idleStreamsRow(report: BenchReport): Row[] {
  const largest = report.idleStreams.at(-1);
  if (!largest) return [];
  // Per-stream cost from the largest run where every stream got through.
  const clean = report.idleStreams.filter((r) => r.pendingAtModel >= r.streams).at(-1);
  const perStream = clean
    ? (clean.gatewayRssBytes.open - clean.gatewayRssBytes.idle) / clean.streams
    : Number.NaN;
  const at10k = clean ? clean.gatewayRssBytes.idle + perStream * 10_000 : Number.NaN;
  const allThrough = largest.pendingAtModel >= largest.streams;
  const target = 'gateway RSS with 10,000 idle streams';
  if (largest.streams >= 10_000 && allThrough) {
    const rss = largest.gatewayRssBytes.open;
    return [[target, '< 1 GiB', mib(rss), rss < 2 ** 30 ? 'yes' : 'no']];
  }
  // Linear from the idle process, so the heap's one-time growth counts as per-stream cost: an
  // estimate on the high side. Only `--full` opens 10,000 and measures.
  const estimate = clean
    ? `${mib(at10k)} extrapolated from ${num(clean.streams)} streams (high: counts the heap's one-time growth)`
    : 'no estimate';
  const failed = allThrough
    ? ''
    : `; of ${num(largest.streams)} streams only ${num(largest.pendingAtModel)} got through, ` +
      `${num(largest.endedEarly)} failed`;
  const met = !allThrough ? 'no' : at10k < 2 ** 30 ? 'yes (estimate)' : 'not shown (`--full` measures it)';
  return [[target, '< 1 GiB', estimate + failed, met]];
}

/** The targets: aim, where the run landed, met or not. */
export function formatTargets(report: BenchReport): string {
  return formatTable(
    ['target', 'aim', 'measured', 'met'],
    [
      ...toolHopRow(report),
      ...endToEndRows(report),
      ...conversationRow(report.conversation),
      ...toolScalingRow(report),
      ...idleStreamsRow(report),
    ],
  );
}
