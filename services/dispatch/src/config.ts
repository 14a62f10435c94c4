import { host, logLevel, parseEnv, port, postgresUrl } from '@toolmesh/config';
import { z } from 'zod';

/** Settings of the dispatch service, parsed once from the environment. */
export interface DispatchConfig {
  port: number;
  host: string;
  /** postgres:// URL; undefined runs on an embedded PGlite database. */
  databaseUrl: string | undefined;
  logLevel: string;
}

const envSchema = z.object({
  PORT: port(50_063),
  HOST: host,
  DATABASE_URL: postgresUrl,
  LOG_LEVEL: logLevel,
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): DispatchConfig {
  const { PORT, HOST, DATABASE_URL, LOG_LEVEL } = parseEnv(envSchema, env, 'dispatch service');
  return { port: PORT, host: HOST, databaseUrl: DATABASE_URL, logLevel: LOG_LEVEL };
}
