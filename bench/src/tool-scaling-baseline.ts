import { meanOfRuns } from './cpu-per-chat.ts';
import type { ToolScalingRow } from './measure-tool-scaling.ts';

/** The first tool count's runs (before and after the others), which every count is compared with. */
export interface ToolScalingBaseline {
  extraTools: number;
  perSecond: number;
  cpuPerChatMs: number;
}

/** The mean of the first count's runs, or nothing without rows. */
export function toolScalingBaseline(rows: ToolScalingRow[]): ToolScalingBaseline | undefined {
  const extraTools = rows[0]?.extraTools;
  if (extraTools === undefined) return undefined;
  const runs = rows.filter((row) => row.extraTools === extraTools).map((row) => row.run);
  return { extraTools, ...meanOfRuns(runs) };
}
