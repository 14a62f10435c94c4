// Server-owned approvals: the user's decision on a held write, closing what waits, and
// finishing what a crashed orchestrator left running.
export { type CloseUndecidedDeps, closeUndecided } from './close-undecided.ts';
export { completeDecision, type DecisionDeps } from './complete-decision.ts';
export { type ConfirmDeps, confirmAction, reconcileApprovedAction } from './confirm-action.ts';
export {
  type ActionReconciliation,
  createReconciler,
  type Reconciler,
  type ReconcilerOptions,
} from './reconciler.ts';
