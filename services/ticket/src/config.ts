import { parseEnv, type ToolServiceSettings, toolServiceEnv, toolServiceSettings } from '@toolmesh/config';
import { z } from 'zod';

/** Settings of the ticket service, parsed once from the environment. */
export interface TicketConfig extends ToolServiceSettings {
  /** host:port of the order service, asked whether an order allows a ticket. */
  orderServiceAddr: string;
}

const envSchema = z.object({
  ...toolServiceEnv({ port: 50_064, metricsPort: 9_414 }),
  ORDER_SERVICE_ADDR: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):[0-9]{1,5}$/, 'must be host:port')
    .default('127.0.0.1:50061'),
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): TicketConfig {
  const c = parseEnv(envSchema, env, 'ticket service');
  return { ...toolServiceSettings(c), orderServiceAddr: c.ORDER_SERVICE_ADDR };
}
