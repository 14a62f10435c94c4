import type { Pool } from '@toolmesh/db';
import type { KeyResolver, Server, TlsSettings } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolServer } from '@toolmesh/tool-sdk';
import { orderSchema } from './migrations.ts';
import { createOrderTools } from './order-tools.ts';

/** Options of {@link createOrderServer}. */
export interface OrderServerOptions {
  /** Pool on a database migrated with the order migrations. */
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
}

/**
 * Builds the order service's gRPC server (ToolService, TaskService, health,
 * reflection); it does not listen. Tasks of async tools are run by a task worker
 * the composition root starts next to it.
 */
export function createOrderServer(options: OrderServerOptions): Server {
  const { pool } = options;
  const tasks = { pool, schema: orderSchema };
  return createToolServer({ ...options, tools: createOrderTools(options.readPool ?? pool), tasks });
}
