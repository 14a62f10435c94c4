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

/** Settings of the order service, parsed once from the environment. */
export interface OrderConfig {
  port: number;
  host: string;
  /** postgres:// URL; undefined runs on an embedded PGlite database. */
  databaseUrl: string | undefined;
  logLevel: string;
  /** Tasks of async tools (export_order_report) run at once by this replica. */
  taskConcurrency: number;
  /** DISCOVERY=etcd makes the replica register itself. */
  discovery: ReturnType<typeof discoverySettings>;
  /** METRICS_PORT and the OTEL_* variables. */
  telemetry: ReturnType<typeof telemetrySettings>;
}

const envSchema = z.object({
  PORT: port(50_061),
  HOST: host,
  ...discoveryEnv,
  ...telemetryEnv(9_411),
  DATABASE_URL: postgresUrl,
  LOG_LEVEL: logLevel,
  TASK_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): OrderConfig {
  const c = parseEnv(envSchema, env, 'order service');
  return {
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    logLevel: c.LOG_LEVEL,
    discovery: discoverySettings(c),
    telemetry: telemetrySettings(c),
    taskConcurrency: c.TASK_CONCURRENCY,
  };
}
