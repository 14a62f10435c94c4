// Composition root of the gateway: config → authenticator → orchestrator client → server.

import { systemClock } from '@toolmesh/clock';
import { connectRedis, createAdmissionLimiter, createRateLimiter } from '@toolmesh/limits';
import {
  AssistantService,
  AuditService,
  ChatService,
  RegistryService,
  TaskService,
  ToolCallService,
  UsageService,
} from '@toolmesh/proto';
import { createCredentialIssuer, handleShutdown, loadSigningKey, meshIssuer } from '@toolmesh/rpc';
import { createLogger, startTelemetry } from '@toolmesh/telemetry';
import { type Config, loadConfig } from './config.ts';
import { connectOrchestrators } from './connect-orchestrators.ts';
import { createForwardAsCaller, createSignAsCaller } from './forward-as-caller.ts';
import { createEdgeAuthenticator } from './identity/index.ts';
import { createGatewayServer } from './server.ts';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  // Before the logger exists: one plain line saying why, and a failed exit an
  // orchestrator (Kubernetes, compose) shows as such, instead of a stack trace.
  console.error(`gateway not started: ${(error as Error).message}`);
  process.exit(1);
}
const logger = createLogger({ service: 'gateway', level: config.logLevel });
// First: spans and /metrics must cover everything that follows.
const telemetry = await startTelemetry({
  service: 'gateway',
  logger,
  host: config.host,
  ...config.telemetry,
});
if (config.usingDevKeys) {
  logger.warn(
    'no TOOLMESH_API_KEYS and no JWKS configured: accepting the development API keys (never with NODE_ENV=production)',
  );
}

// Every replica of the orchestrator, each behind its own breaker; each call is balanced, with
// one retry budget for the hop shared by all its clients.
const orchestrators = await connectOrchestrators({
  settings: config.orchestrators,
  tls: config.tlsToOrchestrator,
  logger,
  metrics: telemetry.metrics,
  clock: systemClock,
});
const orchestratorClient = orchestrators.client;
// Zero trust inward: every forwarded call carries a credential signed here for the caller verified here.
const issuer = createCredentialIssuer({
  issuer: meshIssuer.gateway,
  // Read now: a missing key file stops the start instead of failing every call.
  signingKey: await loadSigningKey(config.meshAuth.signingKeyFile, systemClock),
  clock: systemClock,
});
const forwardAsCaller = createForwardAsCaller(issuer);
// Rate limits live in Redis when configured, so every replica counts against one budget.
const redis = await connectRedis(config.redisUrl, (error) =>
  logger.warn({ err: error }, 'Redis unreachable; limits and cache stay local until it is back'),
);

const server = createGatewayServer({
  orchestrator: {
    chat: orchestratorClient(ChatService, config.defaultDeadlineMs),
    audit: orchestratorClient(AuditService, 10_000),
    tasks: orchestratorClient(TaskService, 10_000),
    registry: orchestratorClient(RegistryService, 10_000),
    assistants: orchestratorClient(AssistantService, 10_000),
    usage: orchestratorClient(UsageService, 10_000),
  },
  forwardAsCaller,
  // MCP at /mcp on the same port: tool calls go to ToolCallService as the verified caller.
  mcp: {
    toolCalls: orchestratorClient(ToolCallService, config.defaultDeadlineMs),
    signAsCaller: createSignAsCaller(issuer),
  },
  authenticate: createEdgeAuthenticator(config.identity, { clock: systemClock, logger }),
  defaultDeadlineMs: config.defaultDeadlineMs,
  rateLimiter: createRateLimiter({ redis, prefix: `${config.redisPrefix}gateway:` }),
  chatRate: config.chatRate,
  publicRate: config.publicRate,
  maxOpenStreamsPerUser: config.maxOpenStreamsPerUser,
  turnAdmission: createAdmissionLimiter({
    limit: config.maxTurnsInFlight,
    adaptive: config.adaptiveAdmission,
    clock: systemClock,
    metrics: {
      registry: telemetry.metrics,
      prefix: 'toolmesh_turns',
      help: 'Chat turns (Chat, ChatStream, Confirm)',
    },
  }),
  corsOrigins: config.corsOrigins,
  logger,
  metrics: telemetry.metrics,
});
const port = await server.listen(config.port, config.host);
server.health.setAll(true);
logger.info(
  {
    port,
    discovery: orchestrators.discovery.kind,
    orchestrators: orchestrators.balancer.endpoints().map((e) => e.address),
  },
  'gateway listening',
);

handleShutdown({
  logger,
  stop: async () => {
    await server.shutdown();
    await orchestrators.stop();
    redis?.disconnect();
    await telemetry.shutdown();
  },
});
