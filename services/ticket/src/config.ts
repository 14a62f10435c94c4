import {
  discoveryEnv,
  discoverySettings,
  host,
  logLevel,
  parseEnv,
  port,
  postgresUrl,
  telemetryEnv,
  telemetrySettings,
} from '@toolmesh/config';
import { z } from 'zod';

/** Settings of the ticket service, parsed once from the environment. */
export interface TicketConfig {
  port: number;
  host: string;
  /** postgres:// URL; undefined runs on an embedded PGlite database. */
  databaseUrl: string | undefined;
  logLevel: string;
  /** host:port of the order service, asked whether an order allows a ticket. */
  orderServiceAddr: string;
  /** DISCOVERY=etcd makes the replica register itself. */
  discovery: ReturnType<typeof discoverySettings>;
  /** METRICS_PORT and the OTEL_* variables. */
  telemetry: ReturnType<typeof telemetrySettings>;
}

const envSchema = z.object({
  PORT: port(50_064),
  HOST: host,
  ...discoveryEnv,
  ...telemetryEnv(9_414),
  DATABASE_URL: postgresUrl,
  LOG_LEVEL: logLevel,
  ORDER_SERVICE_ADDR: z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):[0-9]{1,5}$/, 'must be host:port')
    .default('127.0.0.1:50061'),
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): TicketConfig {
  const c = parseEnv(envSchema, env, 'ticket service');
  return {
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    logLevel: c.LOG_LEVEL,
    discovery: discoverySettings(c),
    telemetry: telemetrySettings(c),
    orderServiceAddr: c.ORDER_SERVICE_ADDR,
  };
}
