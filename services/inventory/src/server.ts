import type { Pool } from '@toolmesh/db';
import type { KeyResolver, Server, TlsSettings } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolServer } from '@toolmesh/tool-sdk';
import { createInventoryTools } from './inventory-tools.ts';

/** Options of {@link createInventoryServer}. */
export interface InventoryServerOptions {
  /** Pool on a database migrated with the inventory migrations. */
  pool: Pool;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
  /** The mesh's public keys: calls need a credential the orchestrator signed for one of these tools. */
  meshKeys: KeyResolver;
  /** Mutual TLS of the listener; absent: plaintext. */
  tls?: TlsSettings;
}

/** Builds the inventory service's gRPC server (ToolService, health, reflection); it does not listen. */
export function createInventoryServer(options: InventoryServerOptions): Server {
  const { pool } = options;
  return createToolServer({ ...options, tools: createInventoryTools(pool) });
}
