import { migrate, openDatabase } from '@toolmesh/db';
import { loadVerificationKeys } from '@toolmesh/rpc';
import { createLogger, startTelemetry } from '@toolmesh/telemetry';
import { serveToolService } from '@toolmesh/tool-sdk';
import { loadConfig } from './config.ts';
import { dispatchMigrations, dispatchSchema } from './migrations.ts';
import { createDispatchServer } from './server.ts';

// Composition root of the dispatch service: config → logger → database → server.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'dispatch', level: config.logLevel });

try {
  // First: spans and /metrics must cover everything that follows.
  const telemetry = await startTelemetry({
    service: 'dispatch',
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
    applicationName: 'toolmesh-dispatch',
  });
  await migrate(db.pool, { schema: dispatchSchema, migrations: dispatchMigrations });
  // Its tools only read: one read-only statement per read, on the read pool.
  const server = createDispatchServer({
    pool: db.readPool,
    logger,
    meshKeys,
    tls: config.tls,
    metrics: telemetry.metrics,
  });
  await serveToolService({
    service: 'dispatch',
    server,
    host: config.host,
    port: config.port,
    discovery: config.discovery,
    logger,
    close: async () => {
      await db.close();
      await telemetry.shutdown();
    },
  });
} catch (error) {
  // A failed start must end the process, or an embedded database would keep it alive.
  logger.fatal({ err: error }, 'dispatch service failed to start');
  process.exit(1);
}
