import type { Clock } from '@toolmesh/clock';
import type { KeyResolver, Server, TlsSettings } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolServer } from '@toolmesh/tool-sdk';
import type { McpConnection } from './mcp-connection.ts';
import { mcpTools } from './mcp-tools.ts';

/** Options of {@link createMcpBridgeServer}. */
export interface McpBridgeServerOptions {
  /** Connections whose first tools/list answered (the others contribute no tools). */
  connections: McpConnection[];
  logger: Logger;
  metrics?: Registry;
  /** The mesh's public keys: calls need a credential the orchestrator signed for one of these tools. */
  meshKeys: KeyResolver;
  tls?: TlsSettings;
  clock?: Clock;
}

/** Builds the bridge's gRPC server (ToolService over every MCP server's tools); it does not listen. */
export function createMcpBridgeServer(options: McpBridgeServerOptions): Server {
  const tools = options.connections.flatMap((connection) => mcpTools({ connection, logger: options.logger }));
  return createToolServer({ ...options, tools });
}
