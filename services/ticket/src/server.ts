import type { Pool } from '@toolmesh/db';
import type { KeyResolver, Server, TlsSettings } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolServer } from '@toolmesh/tool-sdk';
import type { OrderLookup } from './order-lookup.ts';
import { createTicketTools } from './ticket-tools.ts';

/** Options of {@link createTicketServer}. */
export interface TicketServerOptions {
  /** Pool on a database migrated with the ticket migrations. */
  pool: Pool;
  /** Read-only pool on the same database (openDatabase's `readPool`) for the read tools; default `pool`. */
  readPool?: Pool;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
  /** The mesh's public keys: calls need a credential the orchestrator signed for one of these tools. */
  meshKeys: KeyResolver;
  /** Mutual TLS of the listener; absent: plaintext. */
  tls?: TlsSettings;
  /** Order checks of create_ticket, e.g. createOrderLookup({ address }). */
  orderLookup: OrderLookup;
}

/** Builds the ticket service's gRPC server (ToolService, health, reflection); it does not listen. */
export function createTicketServer(options: TicketServerOptions): Server {
  const { pool, readPool, orderLookup } = options;
  return createToolServer({ ...options, tools: createTicketTools({ pool, readPool, orderLookup }) });
}
