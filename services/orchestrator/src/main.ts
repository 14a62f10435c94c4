// Composition root of the orchestrator: config → storage → tool registry → model → engine → server.
import { migrate, openDatabase } from '@toolmesh/db';
import { handleShutdown } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createChatEngine } from './chat-engine.ts';
import { loadConfig } from './config.ts';
import { createConversationStore } from './conversation-store.ts';
import { migrations, schema } from './migrations.ts';
import { createModelClient } from './model-client.ts';
import { createPendingActionStore } from './pending-action-store.ts';
import { createOrchestratorServer } from './server.ts';
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
});
await registry.start();

const engine = createChatEngine({
  conversations: createConversationStore(db.pool),
  actions: createPendingActionStore(db.pool),
  registry,
  executor: createToolExecutor({ logger }),
  model: createModelClient(config.model),
  logger,
  maxRounds: config.maxRounds,
  approvalTtlSeconds: config.approvalTtlSeconds,
  limits: config.limits,
});

const server = createOrchestratorServer({ engine, logger });
const port = await server.listen(config.port, config.host);
server.health.setAll(true);
logger.info({ port, model: config.model.baseURL, tools: registry.list().length }, 'orchestrator listening');

handleShutdown({
  logger,
  stop: async () => {
    await server.shutdown();
    registry.stop();
    await db.close();
  },
});
