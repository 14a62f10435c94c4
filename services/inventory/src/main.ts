import { migrate, openDatabase } from '@toolmesh/db';
import { loadVerificationKeys } from '@toolmesh/rpc';
import { createLogger, startTelemetry } from '@toolmesh/telemetry';
import { serveToolService } from '@toolmesh/tool-sdk';
import { loadConfig } from './config.ts';
import { inventoryMigrations, inventorySchema } from './migrations.ts';
import { createInventoryServer } from './server.ts';

// Composition root of the inventory service: config → logger → database → server.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'inventory', level: config.logLevel });

try {
  // First: spans and /metrics must cover everything that follows.
  const telemetry = await startTelemetry({
    service: 'inventory',
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
    applicationName: 'toolmesh-inventory',
  });
  await migrate(db.pool, { schema: inventorySchema, migrations: inventoryMigrations });
  // Its tools only read: one read-only statement per read, on the read pool.
  const server = createInventoryServer({
    pool: db.readPool,
    logger,
    meshKeys,
    tls: config.tls,
    metrics: telemetry.metrics,
  });
  await serveToolService({
    service: 'inventory',
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
  logger.fatal({ err: error }, 'inventory service failed to start');
  process.exit(1);
}
