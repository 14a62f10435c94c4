import { parseEnv, type ToolServiceSettings, toolServiceEnv, toolServiceSettings } from '@toolmesh/config';
import { z } from 'zod';

/** Settings of the order service, parsed once from the environment. */
export interface OrderConfig extends ToolServiceSettings {
  /** Tasks of async tools (export_order_report) run at once by this replica. */
  taskConcurrency: number;
}

const envSchema = z.object({
  ...toolServiceEnv({ port: 50_061, metricsPort: 9_411 }),
  TASK_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): OrderConfig {
  const c = parseEnv(envSchema, env, 'order service');
  return { ...toolServiceSettings(c), taskConcurrency: c.TASK_CONCURRENCY };
}
