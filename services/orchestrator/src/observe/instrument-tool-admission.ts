import type { ToolAdmission } from '../tools/index.ts';
import type { OrchestratorMetrics } from './orchestrator-metrics.ts';

/** Counts the calls the orchestrator's rate and concurrency limits refuse, per tool. */
export function instrumentToolAdmission(
  admission: ToolAdmission,
  metrics: OrchestratorMetrics,
): ToolAdmission {
  return async (toolName, caller, signal) => {
    const admitted = await admission(toolName, caller, signal);
    if ('refused' in admitted) metrics.rateLimited.inc({ tool: toolName });
    return admitted;
  };
}
