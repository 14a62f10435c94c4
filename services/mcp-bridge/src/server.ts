import type { Clock } from '@toolmesh/clock';
import type { KeyResolver, Server, TlsSettings } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createToolServer, type Tool } from '@toolmesh/tool-sdk';
import type { McpConnection } from './mcp-connection.ts';
import { mcpTools } from './mcp-tools.ts';

/** Options of {@link createMcpBridgeServer}. */
export interface McpBridgeServerOptions {
  /** One per MCP server; a server contributes the tools it listed last (none before it answered). */
  connections: McpConnection[];
  logger: Logger;
  metrics?: Registry;
  /** The mesh's public keys: calls need a credential the orchestrator signed for one of these tools. */
  meshKeys: KeyResolver;
  tls?: TlsSettings;
  clock?: Clock;
}

/**
 * Builds the bridge's gRPC server (ToolService over every MCP server's tools as currently listed:
 * a server's tools change when it says so, or when it comes up later); it does not listen.
 */
export function createMcpBridgeServer(options: McpBridgeServerOptions): Server {
  const built = new Map<McpConnection, { listing: readonly unknown[]; tools: Tool[] }>();
  let all: Tool[] = [];
  const tools = () => {
    let changed = false;
    for (const connection of options.connections) {
      const listing = connection.tools();
      if (built.get(connection)?.listing === listing) continue;
      built.set(connection, { listing, tools: mcpTools({ connection, logger: options.logger }) });
      changed = true;
    }
    if (changed) all = [...built.values()].flatMap((b) => b.tools);
    return all;
  };
  return createToolServer({ ...options, tools });
}
