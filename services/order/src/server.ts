import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createTaskService, createToolService } from '@toolmesh/tool-sdk';
import { orderSchema } from './migrations.ts';
import { createOrderTools } from './order-tools.ts';

/** Options of {@link createOrderServer}. */
export interface OrderServerOptions {
  /** Pool on a database migrated with the order migrations. */
  pool: Pool;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
}

/**
 * Builds the order service's gRPC server (ToolService, TaskService, health,
 * reflection); it does not listen. Tasks of async tools are run by a task worker
 * the composition root starts next to it.
 */
export function createOrderServer(options: OrderServerOptions): Server {
  const { pool, logger } = options;
  const tasks = { pool, schema: orderSchema };
  return createServer({
    logger,
    metrics: options.metrics,
    services: [createToolService({ logger, tools: createOrderTools(pool), tasks }), createTaskService(tasks)],
  });
}
