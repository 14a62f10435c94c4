import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolService } from '@toolmesh/tool-sdk';
import type { OrderLookup } from './order-lookup.ts';
import { createTicketTools } from './ticket-tools.ts';

/** Options of {@link createTicketServer}. */
export interface TicketServerOptions {
  /** Pool on a database migrated with the ticket migrations. */
  pool: Pool;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
  /** Order checks of create_ticket, e.g. createOrderLookup({ address }). */
  orderLookup: OrderLookup;
}

/** Builds the ticket service's gRPC server (ToolService, health, reflection); it does not listen. */
export function createTicketServer(options: TicketServerOptions): Server {
  const { pool, logger, orderLookup } = options;
  return createServer({
    logger,
    metrics: options.metrics,
    services: [createToolService({ logger, tools: createTicketTools({ pool, orderLookup }) })],
  });
}
