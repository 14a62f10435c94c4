import { parseEnv, type ToolServiceSettings, toolServiceEnv, toolServiceSettings } from '@toolmesh/config';
import { z } from 'zod';

/** Settings of the inventory service, parsed once from the environment. */
export type InventoryConfig = ToolServiceSettings;

const envSchema = z.object(toolServiceEnv({ port: 50_062, metricsPort: 9_412 }));

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): InventoryConfig {
  return toolServiceSettings(parseEnv(envSchema, env, 'inventory service'));
}
