// One turn: the idempotent claim, the conversation's lease, the round loop (one model
// call path, planning, execution in call order), the prompt and its budgets, the response.
export { buildPrompt, offeredTools } from './build-prompt.ts';
export { assistantOf, type CallModelDeps, callModel } from './call-model.ts';
export {
  type ConversationLeases,
  type ConversationLeasesOptions,
  conversationBusy,
  createConversationLeases,
} from './conversation-lease.ts';
export { executeRound } from './execute-round.ts';
export { estimateTokens, fitToBudget } from './fit-to-budget.ts';
export { fitToolOutput, type OutputBudget } from './fit-tool-output.ts';
export { type IdempotentRequest, withIdempotencyKey } from './idempotent-claim.ts';
export { type PlannedRound, type PlanRoundInput, planRound, type RoundLimits } from './plan-round.ts';
export { type RoundDeps, type RunRounds, runRounds } from './run-rounds.ts';
export { type AdmittedTurn, type StartTurnDeps, startTurn, type TurnAdmission } from './start-turn.ts';
export { streamTurn } from './stream-turn.ts';
export { notExecutedMessage, resultMessage, toolMessage } from './tool-messages.ts';
export {
  type ChatEvent,
  type EmitEvent,
  newTurnState,
  type TurnAssistant,
  type TurnContext,
  type TurnObserver,
  type TurnState,
} from './turn-context.ts';
export { askForApproval, respond, toExecution, toPendingAction } from './turn-response.ts';
export { createTurnWrites, type TurnWrites } from './turn-writes.ts';
export { withUniqueCallIds } from './unique-call-ids.ts';
