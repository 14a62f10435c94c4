import { migrate, openDatabase } from '@toolmesh/db';
import { handleShutdown } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { loadConfig } from './config.ts';
import { dispatchMigrations, dispatchSchema } from './migrations.ts';
import { createDispatchServer } from './server.ts';

// Composition root of the dispatch service: config → logger → database → server.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'dispatch', level: config.logLevel });

try {
  const db = await openDatabase({ url: config.databaseUrl, applicationName: 'toolmesh-dispatch' });
  await migrate(db.pool, { schema: dispatchSchema, migrations: dispatchMigrations });
  const server = createDispatchServer({ pool: db.pool, logger });
  const port = await server.listen(config.port, config.host);
  server.health.setAll(true);
  logger.info({ port }, 'dispatch service listening');
  handleShutdown({
    logger,
    stop: async () => {
      await server.shutdown();
      await db.close();
    },
  });
} catch (error) {
  // A failed start must end the process, or an embedded database would keep it alive.
  logger.fatal({ err: error }, 'dispatch service failed to start');
  process.exit(1);
}
