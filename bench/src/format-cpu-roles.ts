import { cpuPerChat } from './cpu-per-chat.ts';
import { ms } from './format-table.ts';
import type { ChatRun } from './measure-chats.ts';

/** The columns of CPU per chat by role, as every table of them heads them. */
export const cpuRoleHead = ['gateway', 'orchestrator', 'tool services', 'SQL', 'model', 'load generator'];

/** A run's CPU milliseconds per chat by role, in the order of {@link cpuRoleHead}. */
export function cpuRoleCells(run: ChatRun): string[] {
  const c = cpuPerChat(run);
  return [c.gateway, c.orchestrator, c.tools, c.sql, c.model, c.load].map(ms);
}
