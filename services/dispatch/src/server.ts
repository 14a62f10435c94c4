import type { Pool } from '@toolmesh/db';
import type { KeyResolver, Server, TlsSettings } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolServer } from '@toolmesh/tool-sdk';
import { createDispatchTools } from './dispatch-tools.ts';

/** Options of {@link createDispatchServer}. */
export interface DispatchServerOptions {
  /** Pool on a database migrated with the dispatch migrations. */
  pool: Pool;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
  /** The mesh's public keys: calls need a credential the orchestrator signed for one of these tools. */
  meshKeys: KeyResolver;
  /** Mutual TLS of the listener; absent: plaintext. */
  tls?: TlsSettings;
}

/** Builds the dispatch service's gRPC server (ToolService, health, reflection); it does not listen. */
export function createDispatchServer(options: DispatchServerOptions): Server {
  const { pool } = options;
  return createToolServer({ ...options, tools: createDispatchTools(pool) });
}
