import type { BenchReport } from './bench-report.ts';
import { cpuPerChat } from './cpu-per-chat.ts';
import type { EndToEndResult } from './measure-end-to-end.ts';

/** What a mesh's chats/s and CPU per chat are compared with at one concurrency. */
export interface AgentBaseline {
  perSecond: number;
  cpuPerChatMs: number;
  /** Whether the agent ran in turns with the mesh, or in a window of its own. */
  inTurns: boolean;
}

/**
 * The AI SDK agent a mesh is compared with: its run at that concurrency in turns with the mesh
 * when the run measured them so; otherwise the agent's run of the `ai-sdk` benchmark.
 */
export function agentBaseline(
  report: Pick<BenchReport, 'endToEnd'>,
  mesh: EndToEndResult,
  concurrency: number,
): AgentBaseline | undefined {
  const inTurns = mesh.agentInTurns?.find((r) => r.result.concurrency === concurrency);
  const agent = report.endToEnd.find((e) => e.system === 'AI SDK in-process');
  const run = inTurns ?? agent?.runs.find((r) => r.result.concurrency === concurrency);
  return run
    ? { perSecond: run.result.perSecond, cpuPerChatMs: cpuPerChat(run).total, inTurns: run === inTurns }
    : undefined;
}
