import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import { createToolService } from '@toolmesh/tool-sdk';
import { createOrderTools } from './order-tools.ts';

/** Options of {@link createOrderServer}. */
export interface OrderServerOptions {
  /** Pool on a database migrated with the order migrations. */
  pool: Pool;
  logger: Logger;
}

/** Builds the order service's gRPC server (ToolService, health, reflection); it does not listen. */
export function createOrderServer(options: OrderServerOptions): Server {
  const { pool, logger } = options;
  return createServer({
    logger,
    services: [createToolService({ logger, tools: createOrderTools(pool) })],
  });
}
