// One turn: the prompt and its budgets, planning a round's tool calls, streaming its events.
export { buildPrompt, offeredTools } from './build-prompt.ts';
export { estimateTokens, fitToBudget } from './fit-to-budget.ts';
export { fitToolOutput, type OutputBudget } from './fit-tool-output.ts';
export { type PlannedRound, type PlanRoundInput, planRound, type RoundLimits } from './plan-round.ts';
export { streamTurn } from './stream-turn.ts';
export type { ChatEvent, EmitEvent } from './turn-context.ts';
export { withUniqueCallIds } from './unique-call-ids.ts';
