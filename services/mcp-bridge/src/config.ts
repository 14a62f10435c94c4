import { parseEnv, type ToolServiceSettings, toolServiceEnv, toolServiceSettings } from '@toolmesh/config';
import { z } from 'zod';

/** Settings of the MCP bridge, parsed once from the environment. */
export interface McpBridgeConfig extends ToolServiceSettings {
  /** The YAML file listing the MCP servers (see docs/mcp.md). */
  serversFile: string;
  /** How long the start waits for every server's first tools/list. */
  startTimeoutMs: number;
  /** Upper bound of the reconnect / restart backoff. */
  maxBackoffMs: number;
}

const envSchema = z.object({
  ...toolServiceEnv({ port: 50_065, metricsPort: 9_415 }),
  TOOLMESH_MCP_SERVERS: z.string().min(1),
  MCP_START_TIMEOUT_MS: z.coerce.number().int().min(1).default(30_000),
  MCP_MAX_BACKOFF_MS: z.coerce.number().int().min(1).default(5_000),
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): McpBridgeConfig {
  const c = parseEnv(envSchema, env, 'MCP bridge');
  return {
    ...toolServiceSettings(c),
    serversFile: c.TOOLMESH_MCP_SERVERS,
    startTimeoutMs: c.MCP_START_TIMEOUT_MS,
    maxBackoffMs: c.MCP_MAX_BACKOFF_MS,
  };
}
