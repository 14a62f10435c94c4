import { parseEnv, type ToolServiceSettings, toolServiceEnv, toolServiceSettings } from '@toolmesh/config';
import { z } from 'zod';

/** Settings of the dispatch service, parsed once from the environment. */
export type DispatchConfig = ToolServiceSettings;

const envSchema = z.object(toolServiceEnv({ port: 50_063, metricsPort: 9_413 }));

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): DispatchConfig {
  return toolServiceSettings(parseEnv(envSchema, env, 'dispatch service'));
}
