// The chat engine wired in process: scripted model, in-memory stores, tools served by
// connect's router transport, a manual clock. No processes, no network, no database.
import { create } from '@bufbuild/protobuf';
import { createManualClock, type ManualClock } from '@toolmesh/clock';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';
import { createLogger, type Logger } from '@toolmesh/telemetry';
import { type AssistantCatalog, type ModelBackend, neutralCatalog } from '../../src/assistants/index.ts';
import type { TenantBudgets } from '../../src/budgets/index.ts';
import { type ChatEngine, createChatEngine } from '../../src/chat-engine.ts';
import { createModelPool, type ModelClient, type ModelRequest } from '../../src/model/index.ts';
import type { ChatRequestStore, PendingActionStore, TurnUsageRow } from '../../src/store/index.ts';
import { type CollectTaskResults, createToolExecutor } from '../../src/tools/index.ts';
import type { EmitEvent, TurnContext } from '../../src/turn/index.ts';
import {
  createMemoryChatRequestStore,
  createMemoryConversationStore,
  createMemoryLedger,
  createMemoryPendingActionStore,
  type LedgerRow,
  type MemoryConversationStore,
  type MemoryLedger,
} from './memory-stores.ts';
import { createScriptedModel, type ScriptedAnswer, type ScriptedModel } from './scripted-model.ts';
import { createToolWorld, type ToolWorld, type WorldTool } from './tool-world.ts';

// The in-process tool world verifies no credentials: every call goes out without one.
const unsignedCredentials = {
  forCall: async () => ({}),
  forTask: async () => ({}),
  forRegistry: async () => ({}),
};

/** Permissions of the demo users. */
export const allPermissions = ['order:read', 'inventory:read', 'ticket:read', 'ticket:write'];

/** Read permissions only (as the demo's read-only key of u_1001). */
export const readPermissions = allPermissions.filter((p) => p.endsWith(':read'));

/** A verified principal, as the gateway would pass it; `tenantId` defaults to the demo tenant. */
export const principal = (userId = 'u_1001', permissions = allPermissions, tenantId = 't_demo'): Principal =>
  create(PrincipalSchema, { userId, tenantId, permissions });

/** A turn's context; `emit` to follow its events. */
export const turnOf = (who: Principal = principal(), emit?: EmitEvent): TurnContext => ({
  principal: who,
  requestId: 'req_test',
  signal: new AbortController().signal,
  emit,
});

/** The model backend of the default catalog: every request goes to the scripted model. */
export const scriptedBackend: ModelBackend = {
  name: 'default',
  baseURL: 'http://scripted.invalid/v1',
  apiKey: 'none',
  model: 'scripted',
};

/** Options of {@link createTestEngine}. */
export interface TestEngineOptions {
  script: (request: ModelRequest, step: number) => ScriptedAnswer;
  tools: WorldTool[];
  /** The assistants; default the neutral catalog on {@link scriptedBackend}. */
  assistants?: { current(): AssistantCatalog };
  /** Clients of backends by name; a backend not named here is the scripted model. */
  backends?: Record<string, ModelClient>;
  /** Tenants' budgets, made on the engine's clock; default none. */
  budgets?: (clock: ManualClock) => TenantBudgets;
  maxRounds?: number;
  approvalTtlSeconds?: number;
  maxToolCallsPerRound?: number;
  conversationLeaseMs?: number;
  /** Results of async tasks brought in before a turn; default none. */
  collectTaskResults?: CollectTaskResults;
  /** Another engine's stores, world and clock: a second orchestrator over the same data. */
  sharing?: TestEngine;
}

/** The engine and every part of it, at hand for assertions. */
export interface TestEngine {
  engine: ChatEngine;
  clock: ManualClock;
  model: ScriptedModel;
  world: ToolWorld;
  ledger: MemoryLedger;
  ledgerRows: LedgerRow[];
  conversations: MemoryConversationStore;
  actions: PendingActionStore;
  chatRequests: ChatRequestStore;
  logger: Logger;
  /** One row per turn that called the model, as the usage table would get it. */
  usageRows: TurnUsageRow[];
}

/** Builds the engine and keeps every part at hand for assertions. */
export function createTestEngine(options: TestEngineOptions): TestEngine {
  const shared = options.sharing;
  const clock: ManualClock = shared?.clock ?? createManualClock();
  const ledgerRows: LedgerRow[] = shared?.ledgerRows ?? [];
  const conversations = shared?.conversations ?? createMemoryConversationStore(clock);
  const actions = shared?.actions ?? createMemoryPendingActionStore(clock, ledgerRows);
  const chatRequests = shared?.chatRequests ?? createMemoryChatRequestStore();
  const world = shared?.world ?? createToolWorld(options.tools);
  const ledger = createMemoryLedger(clock, ledgerRows);
  const model = createScriptedModel(options.script);
  const logger = createLogger({ service: 'orchestrator-test', level: 'silent' });
  const catalog = neutralCatalog(scriptedBackend);
  const usageRows: TurnUsageRow[] = [];
  const engine = createChatEngine({
    conversations,
    actions,
    chatRequests,
    collectTaskResults: options.collectTaskResults,
    registry: world.registry,
    executor: createToolExecutor({ logger, ledger, credentials: unsignedCredentials }),
    models: createModelPool({ create: (backend) => options.backends?.[backend.name] ?? model }),
    assistants: options.assistants ?? { current: () => catalog },
    ...(options.budgets ? { budgets: options.budgets(clock) } : {}),
    observer: {
      turnEnded: (row) => {
        usageRows.push(row);
      },
    },
    logger,
    maxRounds: options.maxRounds ?? 3,
    approvalTtlSeconds: options.approvalTtlSeconds ?? 900,
    limits: {
      maxToolCallsPerRound: options.maxToolCallsPerRound ?? 8,
      maxArgumentBytes: 16_384,
      maxToolOutputChars: 8_000,
      contextBudgetTokens: 12_000,
      maxOfferedTools: 32,
    },
    conversationLeaseMs: options.conversationLeaseMs ?? 30_000,
    clock,
  });
  return {
    engine,
    clock,
    model,
    world,
    ledger,
    ledgerRows,
    conversations,
    actions,
    chatRequests,
    logger,
    usageRows,
  };
}

/** The tool messages of a model request after its latest assistant message. */
export function lastToolResults(request: ModelRequest | undefined) {
  const messages = request?.messages ?? [];
  const lastAssistant = messages.map((m) => m.role).lastIndexOf('assistant');
  return messages
    .slice(lastAssistant + 1)
    .flatMap((m) => (m.role === 'tool' ? [{ id: m.tool_call_id, content: String(m.content) }] : []));
}

/** Awaits `condition`, polling; a generous deadline, never a timing assertion. */
export async function until(condition: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not reached: ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
