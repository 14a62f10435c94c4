// Composition root of the gateway: config → authenticator → orchestrator client → server.
import { OrchestratorService } from '@toolmesh/proto';
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
const server = createGatewayServer({
  orchestrator,
  authenticate: createApiKeyAuthenticator(config.apiKeys),
  defaultDeadlineMs: config.defaultDeadlineMs,
  logger,
});
const port = await server.listen(config.port, config.host);
server.health.setAll(true);
logger.info({ port, orchestrator: config.orchestratorAddress }, 'gateway listening');

handleShutdown({ logger, stop: () => server.shutdown() });
