// Server-owned approvals: finishing what a crashed orchestrator left running.
export { createReconciler, type Reconciler, type ReconcilerOptions } from './reconciler.ts';
