// Composition root of the orchestrator: config → storage → tool registry → model → engine → server.

import { createToolCache } from '@toolmesh/cache';
import { migrate, openDatabase } from '@toolmesh/db';
import {
  connectRedis,
  createConcurrencyLimiter,
  createKeyedConcurrencyLimiter,
  createRateLimiter,
} from '@toolmesh/limits';
import { handleShutdown } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createChatEngine } from './chat-engine.ts';
import { createChatRequestStore } from './chat-request-store.ts';
import { loadConfig } from './config.ts';
import { createConversationStore } from './conversation-store.ts';
import { createExecutionLedger } from './execution-ledger.ts';
import { migrations, schema } from './migrations.ts';
import { createModelClient } from './model-client.ts';
import { createPendingActionStore } from './pending-action-store.ts';
import { createReconciler } from './reconciler.ts';
import { createResultCache } from './result-cache.ts';
import { createOrchestratorServer } from './server.ts';
import { createTaskResultCollector } from './task-results.ts';
import { createToolAdmission } from './tool-admission.ts';
import { createToolExecutor } from './tool-executor.ts';
import { createToolRegistry } from './tool-registry.ts';

const config = loadConfig(process.env);
const logger = createLogger({ service: 'orchestrator', level: config.logLevel });

const db = await openDatabase({ url: config.databaseUrl, applicationName: 'toolmesh-orchestrator' });
await migrate(db.pool, { schema, migrations });

const registry = createToolRegistry({
  addresses: config.toolServices,
  logger,
  refreshMs: config.toolRefreshMs,
  endpointPolicy: config.endpointPolicy,
});
await registry.start();

// Rate limits live in Redis when configured, so every replica counts against one budget.
const redis = await connectRedis(config.redisUrl, (error) =>
  logger.warn({ err: error }, 'Redis unreachable; limits and cache stay local until it is back'),
);
const admission = createToolAdmission({
  rateLimiter: createRateLimiter({ redis, prefix: `${config.redisPrefix}orchestrator:` }),
  perUserToolRate: config.execution.perUserToolRate,
  perTool: createKeyedConcurrencyLimiter({
    limitFor: (tool) => registry.get(tool)?.definition.metadata?.maxConcurrency ?? 0,
    queueTimeoutMs: config.execution.queueTimeoutMs,
  }),
  global: createConcurrencyLimiter({
    limit: config.execution.maxConcurrent,
    maxQueue: config.execution.maxConcurrent * 4,
    queueTimeoutMs: config.execution.queueTimeoutMs,
  }),
});

const ledger = createExecutionLedger(db.pool);
const actions = createPendingActionStore(db.pool);
const engine = createChatEngine({
  conversations: createConversationStore(db.pool),
  actions,
  chatRequests: createChatRequestStore(db.pool),
  collectTaskResults: createTaskResultCollector({
    ledger,
    logger,
    maxChars: config.limits.maxToolOutputChars,
  }),
  registry,
  executor: createToolExecutor({
    logger,
    admission,
    ledger,
    cache: createResultCache(
      createToolCache({
        redis,
        prefix: `${config.redisPrefix}cache:`,
        onError: (error) => logger.warn({ err: error }, 'read cache unavailable; calling the tool'),
      }),
    ),
  }),
  model: createModelClient(config.model),
  logger,
  maxRounds: config.maxRounds,
  approvalTtlSeconds: config.approvalTtlSeconds,
  limits: config.limits,
  conversationLeaseMs: config.conversationLeaseMs,
});

// Finish what a crashed predecessor left running, before serving.
const reconciler = createReconciler({ ledger, actions, engine, logger, ...config.reconcile });
await reconciler.runOnce();
reconciler.start();

const server = createOrchestratorServer({ engine, pool: db.pool, ledger, logger });
const port = await server.listen(config.port, config.host);
server.health.setAll(true);
logger.info({ port, model: config.model.baseURL, tools: registry.list().length }, 'orchestrator listening');

handleShutdown({
  logger,
  stop: async () => {
    await server.shutdown();
    reconciler.stop();
    registry.stop();
    await db.close();
    redis?.disconnect();
  },
});
