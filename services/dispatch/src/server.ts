import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolService } from '@toolmesh/tool-sdk';
import { createDispatchTools } from './dispatch-tools.ts';

/** Options of {@link createDispatchServer}. */
export interface DispatchServerOptions {
  /** Pool on a database migrated with the dispatch migrations. */
  pool: Pool;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
}

/** Builds the dispatch service's gRPC server (ToolService, health, reflection); it does not listen. */
export function createDispatchServer(options: DispatchServerOptions): Server {
  const { pool, logger } = options;
  return createServer({
    logger,
    metrics: options.metrics,
    services: [createToolService({ logger, tools: createDispatchTools(pool) })],
  });
}
