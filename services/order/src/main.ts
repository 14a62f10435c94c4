import { migrate, openDatabase } from '@toolmesh/db';
import { loadVerificationKeys } from '@toolmesh/rpc';
import { createLogger, startTelemetry } from '@toolmesh/telemetry';
import { createTaskWorker, serveToolService } from '@toolmesh/tool-sdk';
import { loadConfig } from './config.ts';
import { orderMigrations, orderSchema } from './migrations.ts';
import { createOrderTools } from './order-tools.ts';
import { createOrderServer } from './server.ts';

// Composition root of the order service: config → logger → database → server and task worker.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'order', level: config.logLevel });

try {
  // First: spans and /metrics must cover everything that follows.
  const telemetry = await startTelemetry({
    service: 'order',
    logger,
    host: config.host,
    ...config.telemetry,
  });
  // Read now: a missing key file stops the start instead of failing every call.
  const meshKeys = await loadVerificationKeys(config.meshAuth.jwks);
  const db = await openDatabase({
    url: config.databaseUrl,
    maxConnections: config.databasePoolSize,
    preparedStatements: config.databasePreparedStatements,
    applicationName: 'toolmesh-order',
  });
  await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
  const server = createOrderServer({
    pool: db.pool,
    readPool: db.readPool,
    logger,
    meshKeys,
    tls: config.tls,
    metrics: telemetry.metrics,
  });
  const worker = createTaskWorker({
    pool: db.pool,
    schema: orderSchema,
    // The tools only read; the worker keeps its task rows on the main pool.
    tools: createOrderTools(db.readPool),
    logger,
    concurrency: config.taskConcurrency,
  });
  worker.start();
  await serveToolService({
    service: 'order',
    server,
    host: config.host,
    port: config.port,
    discovery: config.discovery,
    logger,
    // Running tasks finish, or are left to another replica's worker, before the pool goes.
    drain: () => worker.stop(),
    close: async () => {
      await db.close();
      await telemetry.shutdown();
    },
  });
} catch (error) {
  // A failed start must end the process, or an embedded database would keep it alive.
  logger.fatal({ err: error }, 'order service failed to start');
  process.exit(1);
}
