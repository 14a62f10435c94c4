// What the orchestrator keeps in SQL: conversations, pending actions, chat requests, the execution
// ledger, usage per turn, the replicas alive.
export {
  type ChatRequestClaim,
  type ChatRequestStore,
  type ChatRequestStoreOptions,
  createChatRequestStore,
} from './chat-request-store.ts';
export {
  asStoredMessages,
  type ConversationAssistant,
  type ConversationLease,
  type ConversationStore,
  type ConversationStoreOptions,
  createConversationStore,
  type NewConversation,
} from './conversation-store.ts';
export {
  createExecutionLedger,
  type ExecutionEnd,
  type ExecutionLedger,
  type ExecutionLedgerOptions,
  type ExecutionStart,
  type InterruptedExecution,
  type StartedTask,
  type TaskLocation,
} from './execution-ledger.ts';
export { migrations, schema } from './migrations.ts';
export {
  type ActionStatus,
  createPendingActionStore,
  hashArguments,
  type NewPendingAction,
  type PendingActionRecord,
  type PendingActionStore,
  type PendingActionStoreOptions,
} from './pending-action-store.ts';
export {
  createReplicaRegistry,
  ownerIsDead,
  type ReplicaRegistry,
  type ReplicaRegistryOptions,
} from './replica-registry.ts';
export { sqlTime } from './sql-time.ts';
export {
  createUsageStore,
  type TurnUsageRow,
  type UsageQuery,
  type UsageStore,
  type UsageStoreOptions,
  type UsageSummaryRow,
} from './usage-store.ts';
export {
  createWriteBatcher,
  type Queryable,
  type Statement,
  type StatementResult,
  sharedWriteBatcher,
  statementKind,
  type WriteBatcher,
  type WriteBatcherOptions,
  type WriteKind,
} from './write-batcher.ts';
