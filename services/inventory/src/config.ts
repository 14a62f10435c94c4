import { host, logLevel, parseEnv, port, postgresUrl } from '@toolmesh/config';
import { z } from 'zod';

/** Settings of the inventory service, parsed once from the environment. */
export interface InventoryConfig {
  port: number;
  host: string;
  /** postgres:// URL; undefined runs on an embedded PGlite database. */
  databaseUrl: string | undefined;
  logLevel: string;
}

const envSchema = z.object({
  PORT: port(50_062),
  HOST: host,
  DATABASE_URL: postgresUrl,
  LOG_LEVEL: logLevel,
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): InventoryConfig {
  const { PORT, HOST, DATABASE_URL, LOG_LEVEL } = parseEnv(envSchema, env, 'inventory service');
  return { port: PORT, host: HOST, databaseUrl: DATABASE_URL, logLevel: LOG_LEVEL };
}
