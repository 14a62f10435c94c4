import type { BenchReport } from './bench-report.ts';
import { cpuPerChat } from './cpu-per-chat.ts';
import { formatTable, mib, ms, num, ratio } from './format-table.ts';
import { toolScalingBaseline } from './tool-scaling-baseline.ts';

function toolScalingPart(report: BenchReport): string[] {
  const scaling = report.toolScaling;
  const first = scaling && toolScalingBaseline(scaling);
  if (!scaling || !first) return [];
  const head = [
    'extra tools',
    'chats/s',
    'p50 ms',
    'p99 ms',
    `vs ${num(first.extraTools)} (mean of its runs)`,
    'prompt tokens/chat',
    'CPU ms/chat',
  ];
  const rows = scaling.map((row, i) => {
    const r = row.run.result;
    const again = scaling.slice(0, i).some((earlier) => earlier.extraTools === row.extraTools);
    return [
      again ? `${num(row.extraTools)}, again` : num(row.extraTools),
      num(r.perSecond),
      ms(r.latency.p50Ms),
      ms(r.latency.p99Ms),
      ratio(r.perSecond / first.perSecond),
      num((r.counters.promptTokens ?? 0) / (r.counters.chats || 1)),
      ms(cpuPerChat(row.run).total),
      String(r.errors),
    ];
  });
  return [
    '### 3a. Registered tools (c32, in the order measured; the extra tools are offered to the model with every request)',
    '',
    formatTable([...head, 'errors'], rows),
    '',
  ];
}

function conversationPart(report: BenchReport): string[] {
  const conv = report.conversation;
  if (!conv) return [];
  const n = conv.turns.length;
  const marks = [...new Set([1, 2, 5, 10, 20, 30, 50, 100, 150, 200, n].filter((t) => t >= 1 && t <= n))];
  return [
    `### 3b. One conversation of ${n + conv.errors} turns ` +
      `(${conv.errors} failed${conv.firstError ? `: ${conv.firstError}` : ''})`,
    '',
    formatTable(
      ['answered turn', ...marks.map(String)],
      [
        ['prompt tokens (3 model calls)', ...marks.map((t) => num(conv.turns[t - 1]?.promptTokens ?? 0))],
        ['latency ms', ...marks.map((t) => ms(conv.turns[t - 1]?.latencyMs ?? 0))],
      ],
    ),
    '',
    `Largest prompt: ${num(conv.promptTokens.max)} tokens at answered turn ${conv.promptTokens.maxAtTurn}. ` +
      `p50 latency of the first tenth of the turns ${ms(conv.latencyP50Ms.firstTenth)} ms, ` +
      `of the last tenth ${ms(conv.latencyP50Ms.lastTenth)} ms.`,
    '',
  ];
}

function idleStreamsPart(report: BenchReport): string[] {
  return report.idleStreams.flatMap((idle) => {
    // After a failure the RSS also holds what the failed streams left: no per-stream figure then.
    const clean = idle.pendingAtModel >= idle.streams;
    const perStream = (open: number, before: number) =>
      clean ? num((open - before) / idle.streams / 1024, 1) : '–';
    const row = (name: string, bytes: { idle: number; open: number }) => [
      name,
      mib(bytes.idle),
      mib(bytes.open),
      perStream(bytes.open, bytes.idle),
    ];
    const memory = idle.gatewayMemory;
    const heap = perStream(memory.open.heapUsedBytes, memory.idle.heapUsedBytes);
    const external = perStream(memory.open.externalBytes, memory.idle.externalBytes);
    const failed = `${num(idle.endedEarly)} failed${idle.firstError ? ` (${idle.firstError})` : ''}`;
    return [
      `### 3c. Idle ChatStreams: ${num(idle.streams)} opened, ${num(idle.pendingAtModel)} waiting on the model ` +
        `after ${num(idle.openSeconds, 1)} s; ${failed}`,
      '',
      formatTable(
        [
          'process',
          'RSS idle',
          clean ? `RSS with ${num(idle.streams)} streams open` : 'RSS after the failures',
          'KiB per open stream',
        ],
        [row('gateway', idle.gatewayRssBytes), row('orchestrator', idle.orchestratorRssBytes)],
      ),
      '',
      `Of the gateway's KiB per open stream, JS heap in use: ${heap}, Buffers/ArrayBuffers: ${external} ` +
        "(prom-client's nodejs_heap_size_used_bytes and nodejs_external_memory_bytes; garbage not yet " +
        'collected counts as heap).',
      '',
    ];
  });
}

/** Section 3: registered tools, the long conversation, idle streams (what of them ran). */
export function formatScaling(report: BenchReport): string {
  const parts = [...toolScalingPart(report), ...conversationPart(report), ...idleStreamsPart(report)];
  return parts.length ? ['## 3. Scaling', '', ...parts].join('\n') : '';
}
