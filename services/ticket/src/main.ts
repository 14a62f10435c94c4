import { migrate, openDatabase } from '@toolmesh/db';
import { handleShutdown } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { loadConfig } from './config.ts';
import { ticketMigrations, ticketSchema } from './migrations.ts';
import { createOrderLookup } from './order-lookup.ts';
import { createTicketServer } from './server.ts';

// Composition root of the ticket service: config → logger → database, order lookup → server.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'ticket', level: config.logLevel });

try {
  const db = await openDatabase({ url: config.databaseUrl, applicationName: 'toolmesh-ticket' });
  await migrate(db.pool, { schema: ticketSchema, migrations: ticketMigrations });
  // The order service may start later: the lookup connects on first use.
  const orderLookup = createOrderLookup({ address: config.orderServiceAddr });
  const server = createTicketServer({ pool: db.pool, logger, orderLookup });
  const port = await server.listen(config.port, config.host);
  server.health.setAll(true);
  logger.info({ port, order_service: config.orderServiceAddr }, 'ticket service listening');
  handleShutdown({
    logger,
    stop: async () => {
      await server.shutdown();
      await db.close();
    },
  });
} catch (error) {
  // A failed start must end the process, or an embedded database would keep it alive.
  logger.fatal({ err: error }, 'ticket service failed to start');
  process.exit(1);
}
