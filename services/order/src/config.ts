import { host, logLevel, parseEnv, port, postgresUrl } from '@toolmesh/config';
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
}

const envSchema = z.object({
  PORT: port(50_061),
  HOST: host,
  DATABASE_URL: postgresUrl,
  LOG_LEVEL: logLevel,
  TASK_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): OrderConfig {
  const { PORT, HOST, DATABASE_URL, LOG_LEVEL, TASK_CONCURRENCY } = parseEnv(envSchema, env, 'order service');
  return {
    port: PORT,
    host: HOST,
    databaseUrl: DATABASE_URL,
    logLevel: LOG_LEVEL,
    taskConcurrency: TASK_CONCURRENCY,
  };
}
