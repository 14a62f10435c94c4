// Tenants' budgets from the assistants file: tokens per UTC day, turns at once, chat rate.
export {
  type BudgetRefusal,
  createTenantBudgets,
  type ReleaseTurn,
  type TenantBudgets,
  type TenantBudgetsOptions,
} from './tenant-budgets.ts';
