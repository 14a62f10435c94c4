import { Counter, Gauge, type Registry } from '@toolmesh/telemetry';

/** Why the bridge listed an MCP server's tools: it (re)connected, or the server said they changed. */
export type ListingReason = 'connect' | 'list_changed';

/** What the bridge reports per MCP server on /metrics. */
export interface BridgeMetrics {
  listed(server: string, reason: ListingReason, tools: number): void;
}

/** The mcp_bridge_* series in `registry`. */
export function createBridgeMetrics(registry: Registry): BridgeMetrics {
  const listings = new Counter({
    name: 'mcp_bridge_tool_listings_total',
    help: 'tools/list calls to each MCP server, by reason (connect, list_changed).',
    labelNames: ['mcp_server', 'reason'] as const,
    registers: [registry],
  });
  const tools = new Gauge({
    name: 'mcp_bridge_tools',
    help: 'Tools each MCP server listed last.',
    labelNames: ['mcp_server'] as const,
    registers: [registry],
  });
  return {
    listed(server, reason, count) {
      listings.inc({ mcp_server: server, reason });
      tools.set({ mcp_server: server }, count);
    },
  };
}
