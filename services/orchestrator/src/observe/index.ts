// Metrics and spans of the orchestrator's own work, as wrappers around its parts.
export { instrumentModelClient, type ModelInstrumentationOptions } from './instrument-model-client.ts';
export { instrumentPendingActionStore } from './instrument-pending-actions.ts';
export { instrumentResultCache } from './instrument-result-cache.ts';
export { instrumentToolAdmission } from './instrument-tool-admission.ts';
export { createToolInstrumentation } from './instrument-tool-execution.ts';
export {
  createTurnInstrumentation,
  refusedTurnCounter,
  type TurnInstrumentationOptions,
} from './instrument-turns.ts';
export { createOrchestratorMetrics, type OrchestratorMetrics } from './orchestrator-metrics.ts';
