// Tenants' budgets from the assistants file (tokens per UTC day, turns at once, chat rate) and
// rate limits that hold for the whole mesh however many replicas run.

export {
  createReplicaShareRateLimiter,
  type ReplicaShareRateLimiterOptions,
  shareOf,
} from './replica-share-rate-limiter.ts';
export {
  type BudgetRefusal,
  createTenantBudgets,
  type ReleaseTurn,
  type TenantBudgets,
  type TenantBudgetsOptions,
} from './tenant-budgets.ts';
