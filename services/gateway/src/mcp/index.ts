// toolmesh as an MCP server: the gateway's /mcp endpoint.
export { createMcpHandler, type McpHandlerOptions, mcpPath } from './create-mcp-handler.ts';
export {
  createMcpServer,
  type McpServerOptions,
  mcpServerInfo,
  toCallToolResult,
} from './create-mcp-server.ts';
