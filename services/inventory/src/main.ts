import { migrate, openDatabase } from '@toolmesh/db';
import { handleShutdown } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { loadConfig } from './config.ts';
import { inventoryMigrations, inventorySchema } from './migrations.ts';
import { createInventoryServer } from './server.ts';

// Composition root of the inventory service: config → logger → database → server.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'inventory', level: config.logLevel });

try {
  const db = await openDatabase({ url: config.databaseUrl, applicationName: 'toolmesh-inventory' });
  await migrate(db.pool, { schema: inventorySchema, migrations: inventoryMigrations });
  const server = createInventoryServer({ pool: db.pool, logger });
  const port = await server.listen(config.port, config.host);
  server.health.setAll(true);
  logger.info({ port }, 'inventory service listening');
  handleShutdown({
    logger,
    stop: async () => {
      await server.shutdown();
      await db.close();
    },
  });
} catch (error) {
  // A failed start must end the process, or an embedded database would keep it alive.
  logger.fatal({ err: error }, 'inventory service failed to start');
  process.exit(1);
}
