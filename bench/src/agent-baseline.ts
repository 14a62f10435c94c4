import type { BenchReport } from './bench-report.ts';
import { cpuPerChat, meanOfRuns } from './cpu-per-chat.ts';
import type { EndToEndResult } from './measure-end-to-end.ts';

/** What a mesh's chats/s and CPU per chat are compared with at one concurrency. */
export interface AgentBaseline {
  perSecond: number;
  cpuPerChatMs: number;
  /** The agent's runs it comes from, as the report says it: "290 before, 420 after". */
  source?: string;
}

/**
 * The AI SDK agent a mesh is compared with: at c32, the mean of the agent runs right before
 * and right after the mesh's own when the run interleaved them; otherwise (and at other
 * concurrencies) the agent's run of the `ai-sdk` benchmark.
 */
export function agentBaseline(
  report: Pick<BenchReport, 'endToEnd'>,
  mesh: EndToEndResult,
  concurrency: number,
): AgentBaseline | undefined {
  const around = mesh.agentAround;
  if (around && concurrency === 32) {
    const { before, after } = around;
    return {
      ...meanOfRuns([before, after]),
      source: `${Math.round(before.result.perSecond)} before, ${Math.round(after.result.perSecond)} after`,
    };
  }
  const agent = report.endToEnd.find((e) => e.system === 'AI SDK in-process');
  const run = agent?.runs.find((r) => r.result.concurrency === concurrency);
  return run ? { perSecond: run.result.perSecond, cpuPerChatMs: cpuPerChat(run).total } : undefined;
}
