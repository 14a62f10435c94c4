import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolService } from '@toolmesh/tool-sdk';
import { createInventoryTools } from './inventory-tools.ts';

/** Options of {@link createInventoryServer}. */
export interface InventoryServerOptions {
  /** Pool on a database migrated with the inventory migrations. */
  pool: Pool;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
}

/** Builds the inventory service's gRPC server (ToolService, health, reflection); it does not listen. */
export function createInventoryServer(options: InventoryServerOptions): Server {
  const { pool, logger } = options;
  return createServer({
    logger,
    metrics: options.metrics,
    services: [createToolService({ logger, tools: createInventoryTools(pool) })],
  });
}
