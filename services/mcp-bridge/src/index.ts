export { loadConfig, type McpBridgeConfig } from './config.ts';
export { createMcpConnection, type McpConnection, type McpConnectionOptions } from './mcp-connection.ts';
export {
  type McpServerConfig,
  McpServersFileError,
  type McpServersFileIssue,
  type McpToolOverride,
  parseMcpServersFile,
} from './mcp-servers-file.ts';
export { type McpToolsOptions, mcpTools, meshToolName, toolResult } from './mcp-tools.ts';
export { createMcpBridgeServer, type McpBridgeServerOptions } from './server.ts';
