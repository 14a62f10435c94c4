// One orchestrator replica over the real Postgres: the SQL stores, the replica registry,
// the real executor and engine, tools of the in-process tool world, the scripted model.
// Several of these on one database and one manual clock are several replicas racing.
import type { ManualClock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import { createLogger, type Logger } from '@toolmesh/telemetry';
import { createReconciler, type Reconciler } from '../../src/approvals/index.ts';
import { neutralCatalog } from '../../src/assistants/index.ts';
import { type ChatEngine, createChatEngine } from '../../src/chat-engine.ts';
import { createModelPool, type ModelRequest } from '../../src/model/index.ts';
import {
  type ChatRequestStore,
  type ConversationStore,
  createChatRequestStore,
  createConversationStore,
  createExecutionLedger,
  createPendingActionStore,
  createReplicaRegistry,
  type ExecutionLedger,
  type InterruptedExecution,
  type PendingActionStore,
  type ReplicaRegistry,
} from '../../src/store/index.ts';
import { createToolExecutor } from '../../src/tools/index.ts';
import { createScriptedModel, type ScriptedAnswer } from './scripted-model.ts';
import { scriptedBackend } from './test-engine.ts';
import type { ToolWorld } from './tool-world.ts';

// The in-process tool world verifies no credentials: every call goes out without one.
const unsignedCredentials = {
  forCall: async () => ({}),
  forTask: async () => ({}),
  forRegistry: async () => ({}),
};

/** Options of {@link createSqlReplica}. */
export interface SqlReplicaOptions {
  pool: Pool;
  clock: ManualClock;
  world: ToolWorld;
  script: (request: ModelRequest, step: number) => ScriptedAnswer;
  staleMs?: number;
  intervalMs?: number;
  conversationLeaseMs?: number;
}

/** A replica and its parts; `markedUnknown` collects what its reconciler marked unknown. */
export interface SqlReplica {
  engine: ChatEngine;
  ledger: ExecutionLedger;
  replicas: ReplicaRegistry;
  conversations: ConversationStore;
  actions: PendingActionStore;
  chatRequests: ChatRequestStore;
  reconciler: Reconciler;
  markedUnknown: InterruptedExecution[];
  logger: Logger;
}

/** Creates one {@link SqlReplica}. */
export function createSqlReplica(options: SqlReplicaOptions): SqlReplica {
  const { pool, clock } = options;
  const logger = createLogger({ service: 'orchestrator-test', level: 'silent' });
  const conversations = createConversationStore(pool, { clock });
  const actions = createPendingActionStore(pool, { clock });
  const ledger = createExecutionLedger(pool, { clock });
  const replicas = createReplicaRegistry(pool, { owner: ledger.owner, clock });
  const chatRequests = createChatRequestStore(pool, { replica: ledger.owner, clock });
  const markedUnknown: InterruptedExecution[] = [];
  const watchedLedger: ExecutionLedger = {
    ...ledger,
    async markStaleAsUnknown(staleMs) {
      const marked = await ledger.markStaleAsUnknown(staleMs);
      markedUnknown.push(...marked);
      return marked;
    },
  };
  const catalog = neutralCatalog(scriptedBackend);
  const model = createScriptedModel(options.script);
  const engine = createChatEngine({
    conversations,
    actions,
    chatRequests,
    registry: options.world.registry,
    executor: createToolExecutor({ logger, ledger, credentials: unsignedCredentials }),
    models: createModelPool({ create: () => model }),
    assistants: { current: () => catalog },
    logger,
    maxRounds: 3,
    approvalTtlSeconds: 900,
    limits: {
      maxToolCallsPerRound: 8,
      maxArgumentBytes: 16_384,
      maxToolOutputChars: 8_000,
      contextBudgetTokens: 12_000,
      maxOfferedTools: 32,
    },
    conversationLeaseMs: options.conversationLeaseMs ?? 30_000,
    clock,
  });
  const reconciler = createReconciler({
    ledger: watchedLedger,
    actions,
    engine,
    logger,
    replicas,
    staleMs: options.staleMs ?? 120_000,
    intervalMs: options.intervalMs ?? 30_000,
    clock,
  });
  return {
    engine,
    ledger,
    replicas,
    conversations,
    actions,
    chatRequests,
    reconciler,
    markedUnknown,
    logger,
  };
}
