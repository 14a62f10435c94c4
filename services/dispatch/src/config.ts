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

/** Settings of the dispatch service, parsed once from the environment. */
export interface DispatchConfig {
  port: number;
  host: string;
  /** postgres:// URL; undefined runs on an embedded PGlite database. */
  databaseUrl: string | undefined;
  logLevel: string;
  /** DISCOVERY=etcd makes the replica register itself. */
  discovery: ReturnType<typeof discoverySettings>;
  /** METRICS_PORT and the OTEL_* variables. */
  telemetry: ReturnType<typeof telemetrySettings>;
}

const envSchema = z.object({
  PORT: port(50_063),
  HOST: host,
  ...discoveryEnv,
  ...telemetryEnv(9_413),
  DATABASE_URL: postgresUrl,
  LOG_LEVEL: logLevel,
});

/** Parses the service's environment; throws an error naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv): DispatchConfig {
  const c = parseEnv(envSchema, env, 'dispatch service');
  return {
    port: c.PORT,
    host: c.HOST,
    databaseUrl: c.DATABASE_URL,
    logLevel: c.LOG_LEVEL,
    discovery: discoverySettings(c),
    telemetry: telemetrySettings(c),
  };
}
