// Composition root of the gateway: config → authenticator → orchestrator client → server.

import { connectRedis, createRateLimiter } from '@toolmesh/limits';
import { AuditService, OrchestratorService, TaskService } from '@toolmesh/proto';
import { createGrpcClient, handleShutdown } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createApiKeyAuthenticator } from './authenticate.ts';
import { loadConfig } from './config.ts';
import { createGatewayServer } from './server.ts';

const config = loadConfig(process.env);
const logger = createLogger({ service: 'gateway', level: config.logLevel });
if (config.usingDevKeys) logger.warn('TOOLMESH_API_KEYS is not set: accepting the development API keys');

const orchestrator = createGrpcClient(OrchestratorService, {
  address: config.orchestratorAddress,
  defaultTimeoutMs: config.defaultDeadlineMs,
});
// Rate limits live in Redis when configured, so every replica counts against one budget.
const redis = await connectRedis(config.redisUrl, (error) =>
  logger.warn({ err: error }, 'Redis unreachable; limits and cache stay local until it is back'),
);

const server = createGatewayServer({
  orchestrator,
  audit: createGrpcClient(AuditService, { address: config.orchestratorAddress, defaultTimeoutMs: 10_000 }),
  tasks: createGrpcClient(TaskService, { address: config.orchestratorAddress, defaultTimeoutMs: 10_000 }),
  authenticate: createApiKeyAuthenticator(config.apiKeys),
  defaultDeadlineMs: config.defaultDeadlineMs,
  rateLimiter: createRateLimiter({ redis, prefix: `${config.redisPrefix}gateway:` }),
  chatRate: config.chatRate,
  logger,
});
const port = await server.listen(config.port, config.host);
server.health.setAll(true);
logger.info({ port, orchestrator: config.orchestratorAddress }, 'gateway listening');

handleShutdown({
  logger,
  stop: async () => {
    await server.shutdown();
    redis?.disconnect();
  },
});
