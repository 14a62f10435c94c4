import { migrate, openDatabase } from '@toolmesh/db';
import { handleShutdown } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createTaskWorker } from '@toolmesh/tool-sdk';
import { loadConfig } from './config.ts';
import { orderMigrations, orderSchema } from './migrations.ts';
import { createOrderTools } from './order-tools.ts';
import { createOrderServer } from './server.ts';

// Composition root of the order service: config → logger → database → server and task worker.
const config = loadConfig(process.env);
const logger = createLogger({ service: 'order', level: config.logLevel });

try {
  const db = await openDatabase({ url: config.databaseUrl, applicationName: 'toolmesh-order' });
  await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
  const server = createOrderServer({ pool: db.pool, logger });
  const worker = createTaskWorker({
    pool: db.pool,
    schema: orderSchema,
    tools: createOrderTools(db.pool),
    logger,
    concurrency: config.taskConcurrency,
  });
  const port = await server.listen(config.port, config.host);
  worker.start();
  server.health.setAll(true);
  logger.info({ port }, 'order service listening');
  handleShutdown({
    logger,
    stop: async () => {
      // Both drain at once (within the 15 s forced exit); running tasks finish, or
      // are left to another replica's worker, before the pool goes.
      await Promise.all([server.shutdown(), worker.stop()]);
      await db.close();
    },
  });
} catch (error) {
  // A failed start must end the process, or an embedded database would keep it alive.
  logger.fatal({ err: error }, 'order service failed to start');
  process.exit(1);
}
