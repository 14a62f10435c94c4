import { migrate, openDatabase } from '@toolmesh/db';
import { loadVerificationKeys } from '@toolmesh/rpc';
import { createLogger, startTelemetry } from '@toolmesh/telemetry';
import { serveToolService } from '@toolmesh/tool-sdk';
import { loadConfig } from './config.ts';
import { ticketMigrations, ticketSchema } from './migrations.ts';
import { createOrderLookup } from './order-lookup.ts';
import { createTicketServer } from './server.ts';

// Composition root of the ticket service: config → logger → database, order lookup → server.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'ticket', level: config.logLevel });

try {
  // First: spans and /metrics must cover everything that follows.
  const telemetry = await startTelemetry({
    service: 'ticket',
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
    applicationName: 'toolmesh-ticket',
  });
  await migrate(db.pool, { schema: ticketSchema, migrations: ticketMigrations });
  // The order service may start later: the lookup connects on first use.
  const orderLookup = createOrderLookup({
    address: config.orderServiceAddr,
    tls: config.tls,
    metrics: telemetry.metrics,
  });
  const server = createTicketServer({
    pool: db.pool,
    readPool: db.readPool,
    logger,
    meshKeys,
    tls: config.tls,
    orderLookup,
    metrics: telemetry.metrics,
  });
  await serveToolService({
    service: 'ticket',
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
  logger.fatal({ err: error }, 'ticket service failed to start');
  process.exit(1);
}
