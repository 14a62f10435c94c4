// Composition root of the orchestrator, top-down: config → telemetry → storage → tools → model →
// engine → reconciler → server → shutdown.

import { createToolCache } from '@toolmesh/cache';
import { systemClock } from '@toolmesh/clock';
import { migrate, openDatabase } from '@toolmesh/db';
import { createDiscovery, registerIfConfigured } from '@toolmesh/discovery';
import {
  connectRedis,
  createAdmissionLimiter,
  createConcurrencyLimiter,
  createKeyedConcurrencyLimiter,
} from '@toolmesh/limits';
import { SideEffect } from '@toolmesh/proto';
import {
  createCredentialIssuer,
  handleShutdown,
  loadSigningKey,
  loadVerificationKeys,
  meshIssuer,
} from '@toolmesh/rpc';
import { createLogger, startTelemetry } from '@toolmesh/telemetry';
import { createReconciler } from './approvals/index.ts';
import { createAssistantSource } from './assistants/index.ts';
import { createReplicaShareRateLimiter, createTenantBudgets } from './budgets/index.ts';
import { createChatEngine } from './chat-engine.ts';
import { loadConfig } from './config.ts';
import { createModelClient, createModelFetch, createModelPool, withModelBreaker } from './model/index.ts';
import {
  createOrchestratorMetrics,
  createToolInstrumentation,
  createTurnInstrumentation,
  instrumentModelClient,
  instrumentPendingActionStore,
  instrumentResultCache,
  instrumentToolAdmission,
  refusedTurnCounter,
} from './observe/index.ts';
import { createPublishingPolicySource } from './publishing/index.ts';
import { createOrchestratorServer } from './server.ts';
import {
  createChatRequestStore,
  createConversationStore,
  createExecutionLedger,
  createPendingActionStore,
  createReplicaRegistry,
  createUsageStore,
  migrations,
  schema,
} from './store/index.ts';
import {
  createResultCache,
  createTaskResultCollector,
  createToolAdmission,
  createToolCredentials,
  createToolExecutor,
  createToolRegistry,
} from './tools/index.ts';

const config = loadConfig(process.env);
// The one source of time: leases, approval expiry, breakers, retries, limits, cache, refreshes and
// reconciliation read it.
const clock = systemClock;
const logger = createLogger({ service: 'orchestrator', level: config.logLevel });
// First: spans and /metrics must cover everything that follows.
const telemetry = await startTelemetry({
  service: 'orchestrator',
  logger,
  host: config.host,
  ...config.telemetry,
});
const metrics = createOrchestratorMetrics(telemetry.metrics);

// Storage: conversations, approvals, chat requests and the execution ledger, in one schema.
const db = await openDatabase({
  url: config.databaseUrl,
  maxConnections: config.databasePoolSize,
  preparedStatements: config.databasePreparedStatements,
  applicationName: 'toolmesh-orchestrator',
  clock,
});
await migrate(db.pool, { schema, migrations });
const conversations = createConversationStore(db.pool);
const actions = instrumentPendingActionStore(createPendingActionStore(db.pool), metrics);
// Expiry and staleness in SQL are judged by the database's clock (one for every replica);
// rows are owned by this replica's id, renewed in the replica registry while it lives.
const ledger = createExecutionLedger(db.pool);
const replicas = createReplicaRegistry(db.pool, { owner: ledger.owner });
const chatRequests = createChatRequestStore(db.pool, { replica: ledger.owner });

// Zero trust: the gateway's credentials are verified with the mesh's public keys; every call to
// a tool service carries a credential signed here for that call.
// Both read now: a missing key file stops the start instead of failing every call.
const meshKeys = await loadVerificationKeys(config.meshAuth.jwks, clock);
const issuer = createCredentialIssuer({
  issuer: meshIssuer.orchestrator,
  signingKey: await loadSigningKey(config.meshAuth.signingKeyFile, clock),
  clock,
});
// A tool's delegated reads get a credential only while the registry knows them as reads.
const credentials = createToolCredentials(issuer, {
  isReadTool: (name) => registry.get(name)?.definition.metadata?.sideEffect === SideEffect.READ,
});

// Who may publish which tool names, and the versions' rollout; reloaded when the file changes.
const publishing = createPublishingPolicySource({
  path: config.publishingPolicyFile,
  checkEveryMs: config.publishingPolicyCheckMs,
  clock,
  logger,
});

// Tools: where the tool services are (fixed addresses, DNS names or the etcd registry).
const registry = createToolRegistry({
  discovery: createDiscovery({
    settings: config.discovery,
    addresses: config.toolServices,
    dnsRefreshMs: config.dnsRefreshMs,
    onError: (error) => logger.warn({ err: error }, 'discovery failed; keeping the last known endpoints'),
  }),
  logger,
  refreshMs: config.toolRefreshMs,
  endpointPolicy: config.endpointPolicy,
  observe: { onBreakerChange: metrics.breakerStateChanged, clientMetrics: metrics.registry },
  onEndpointRemoved: metrics.forgetEndpoint,
  listToolsHeaders: () => credentials.forRegistry(),
  tls: config.tls,
  publishing,
  clock,
});
await registry.start();

// Rate limits and the read cache live in Redis when configured, so every replica counts against one budget.
const redis = await connectRedis(config.redisUrl, (error) =>
  logger.warn({ err: error }, 'Redis unreachable; limits and cache stay local until it is back'),
);
const admission = instrumentToolAdmission(
  createToolAdmission({
    // Without Redis (or while it fails) each replica limits with its share of the rule.
    rateLimiter: createReplicaShareRateLimiter({
      redis,
      prefix: `${config.redisPrefix}orchestrator:`,
      replicas: replicas.liveCount,
      clock,
    }),
    perUserToolRate: config.execution.perUserToolRate,
    perTool: createKeyedConcurrencyLimiter({
      limitFor: (tool) => registry.get(tool)?.definition.metadata?.maxConcurrency ?? 0,
      queueTimeoutMs: config.execution.queueTimeoutMs,
      clock,
    }),
    global: createConcurrencyLimiter({
      limit: config.execution.maxConcurrent,
      maxQueue: config.execution.maxConcurrent * 4,
      queueTimeoutMs: config.execution.queueTimeoutMs,
      clock,
    }),
  }),
  metrics,
);
// Tools opt in with cache_ttl; READ_CACHE=off turns caching off for all of them.
const cache = config.readCache
  ? instrumentResultCache(
      createResultCache(
        createToolCache({
          redis,
          prefix: `${config.redisPrefix}cache:`,
          onError: (error) => logger.warn({ err: error }, 'read cache unavailable; calling the tool'),
          clock,
        }),
      ),
      metrics,
    )
  : undefined;
const executor = createToolExecutor({
  logger,
  credentials,
  admission,
  ledger,
  cache,
  instrument: createToolInstrumentation(metrics),
  clock,
});

// Assistants: instructions, tools, models and tenants' budgets from the assistants file,
// reloaded when it changes; without one, a neutral assistant on the model of the environment.
const assistants = await createAssistantSource({
  path: config.assistantsFile,
  envModel: {
    name: 'default',
    baseURL: config.model.baseURL,
    apiKey: config.model.apiKey,
    model: config.model.model,
    timeoutMs: config.model.timeoutMs,
  },
  env: process.env,
  checkEveryMs: config.assistantsCheckMs,
  clock,
  logger,
});
const isKnownTenant = (tenantId: string) => assistants.current().tenants.has(tenantId);

// The models: a client per backend of the assistants file, made on first use; outermost
// each backend's own breaker: while it is open no call is made to it (nor measured), and
// an assistant's fallback model is asked instead.
// One connection pool (and the egress proxy, when set) for every model backend.
const modelFetch = createModelFetch({ proxy: config.model.proxy });
const models = createModelPool({
  create: (backend) =>
    withModelBreaker(
      instrumentModelClient(
        createModelClient({
          ...backend,
          timeoutMs: backend.timeoutMs ?? config.model.timeoutMs,
          fetch: modelFetch.fetch,
        }),
        { metrics, model: backend.model, baseURL: backend.baseURL },
      ),
      {
        ...config.modelBreaker,
        onStateChange: (state) => logger.warn({ state, model: backend.name }, 'model breaker changed state'),
        clock,
      },
    ),
});

// Tenants' budgets count in Redis when configured, so they hold across replicas.
const budgets = createTenantBudgets({
  redis,
  prefix: `${config.redisPrefix}orchestrator:`,
  logger,
  onRefused: refusedTurnCounter(metrics, { isKnownTenant }),
  replicas: replicas.liveCount,
  clock,
});
const usage = createUsageStore(db.pool, { clock });
const turnMetrics = createTurnInstrumentation(metrics, { isKnownTenant });

// The engine: turns and approvals over all of the above.
const engine = createChatEngine({
  conversations,
  actions,
  chatRequests,
  collectTaskResults: createTaskResultCollector({
    ledger,
    logger,
    maxChars: config.limits.maxToolOutputChars,
    credentials,
    clientOptions: { tls: config.tls },
  }),
  registry,
  executor,
  models,
  assistants,
  budgets,
  observer: {
    ...turnMetrics,
    async turnEnded(turn) {
      turnMetrics.turnEnded(turn);
      await usage.record(turn);
    },
  },
  logger,
  maxRounds: config.maxRounds,
  approvalTtlSeconds: config.approvalTtlSeconds,
  limits: config.limits,
  conversationLeaseMs: config.conversationLeaseMs,
  clock,
});

// Finish what a crashed predecessor left running, before serving.
// Every replica runs one; they share the work by row claims (see createReconciler).
const reconciler = createReconciler({
  ledger,
  actions,
  engine,
  logger,
  replicas,
  ...config.reconcile,
  clock,
});
await reconciler.runOnce();
reconciler.start();

const server = createOrchestratorServer({
  engine,
  registry,
  pool: db.pool,
  ledger,
  meshKeys,
  credentials,
  logger,
  metrics: telemetry.metrics,
  tls: config.tls,
  assistants,
  usage,
  toolCalls: {
    registry,
    executor,
    conversations,
    actions,
    requests: chatRequests,
    confirm: engine.confirm,
    approvalTtlSeconds: config.approvalTtlSeconds,
    limits: config.limits,
    leaseMs: config.conversationLeaseMs,
  },
  turnAdmission: createAdmissionLimiter({
    limit: config.maxTurnsInFlight,
    adaptive: config.adaptiveAdmission,
    clock,
    metrics: {
      registry: telemetry.metrics,
      prefix: 'toolmesh_turns',
      help: 'Chat turns (Chat, ChatStream, Confirm)',
    },
  }),
  clock,
});
const port = await server.listen(config.port, config.host);
server.health.setAll(true);
// DISCOVERY=etcd: the gateways find this replica under its registration.
const registration = await registerIfConfigured(config.registration, {
  service: 'orchestrator',
  host: config.host,
  port,
  onError: (error) => logger.warn({ err: error }, 'etcd registration failed; retrying'),
});
logger.info(
  {
    port,
    model: config.model.baseURL,
    tools: registry.list().length,
    assistants: [...assistants.current().assistants.keys()],
  },
  'orchestrator listening',
);

handleShutdown({
  logger,
  stop: async () => {
    // Out of discovery first, so gateways stop picking this replica while it drains.
    await registration.deregister();
    await server.shutdown();
    reconciler.stop();
    // Drained: what is left of this replica may be taken over at once.
    await replicas.leave().catch((error: unknown) => logger.warn({ err: error }, 'leaving failed'));
    assistants.stop();
    publishing.stop();
    await registry.stop();
    await modelFetch.close();
    await db.close();
    redis?.disconnect();
    await telemetry.shutdown();
  },
});
