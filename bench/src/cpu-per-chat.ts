import type { ChatRun } from './measure-chats.ts';

/** CPU milliseconds per answered chat, by role. */
export interface CpuPerChat {
  gateway: number;
  orchestrator: number;
  tools: number;
  sql: number;
  model: number;
  load: number;
  total: number;
}

const toolServices = new Set(['order', 'inventory', 'dispatch', 'ticket', 'bench tools']);

/** The run's CPU per chat, its processes grouped by role so that the systems compare. */
export function cpuPerChat(run: ChatRun): CpuPerChat {
  const chats = run.result.ok || 1;
  const sum = (pick: (name: string) => boolean) =>
    Object.entries(run.cpu.byProcess).reduce(
      (total, [name, value]) => (pick(name) ? total + value : total),
      0,
    ) / chats;
  return {
    gateway: sum((n) => n === 'gateway'),
    orchestrator: sum((n) => n === 'orchestrator'),
    tools: sum((n) => toolServices.has(n)),
    sql: sum((n) => n === 'postgres backends' || n === 'embedded-db'),
    model: sum((n) => n === 'scripted-model'),
    load: sum((n) => n === 'load generator'),
    total: sum(() => true),
  };
}

/** Chats/s and CPU per chat of the same level measured several times, averaged. */
export function meanOfRuns(runs: readonly ChatRun[]): { perSecond: number; cpuPerChatMs: number } {
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / (values.length || 1);
  return {
    perSecond: mean(runs.map((run) => run.result.perSecond)),
    cpuPerChatMs: mean(runs.map((run) => cpuPerChat(run).total)),
  };
}
