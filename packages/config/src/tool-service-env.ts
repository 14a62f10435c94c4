import type { z } from 'zod';
import { meshAuthEnv, meshAuthSettings } from './mesh-auth-env.ts';
import {
  databasePoolSize,
  databasePreparedStatements,
  discoveryEnv,
  discoverySettings,
  host,
  logLevel,
  port,
  postgresUrl,
} from './parse-env.ts';
import { telemetryEnv, telemetrySettings } from './telemetry-env.ts';
import { tlsEnv, tlsSettings } from './tls-env.ts';

/**
 * The variables every demo tool service reads, spread into its schema: `PORT`, `HOST`,
 * `DATABASE_URL`, `DATABASE_POOL_SIZE`, `DATABASE_PREPARED_STATEMENTS`, `LOG_LEVEL`, discovery
 * (see `discoveryEnv`), telemetry (see `telemetryEnv`), the mesh's public keys (see
 * `meshAuthEnv`) and mutual TLS (see `tlsEnv`), with the service's default ports.
 */
export const toolServiceEnv = (defaults: { port: number; metricsPort: number }) => ({
  PORT: port(defaults.port),
  HOST: host,
  ...discoveryEnv,
  ...telemetryEnv(defaults.metricsPort),
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_SIZE: databasePoolSize,
  DATABASE_PREPARED_STATEMENTS: databasePreparedStatements,
  LOG_LEVEL: logLevel,
  ...meshAuthEnv,
  ...tlsEnv,
});

type ToolServiceEnv = z.output<z.ZodObject<ReturnType<typeof toolServiceEnv>>>;

/** The parsed {@link toolServiceEnv}, shaped for a tool service's composition root. */
export function toolServiceSettings(c: ToolServiceEnv) {
  return {
    port: c.PORT,
    host: c.HOST,
    /** postgres:// URL; undefined runs on an embedded PGlite database. */
    databaseUrl: c.DATABASE_URL,
    /** Connections this replica may open to the database. */
    databasePoolSize: c.DATABASE_POOL_SIZE,
    /** Whether statements are prepared per connection (off behind a pooler that cannot keep them). */
    databasePreparedStatements: c.DATABASE_PREPARED_STATEMENTS,
    logLevel: c.LOG_LEVEL,
    /** DISCOVERY=etcd makes the replica register itself. */
    discovery: discoverySettings(c),
    /** METRICS_PORT and the OTEL_* variables. */
    telemetry: telemetrySettings(c),
    /** The mesh's public keys: every call must carry a credential the orchestrator signed. */
    meshAuth: meshAuthSettings(c, { verify: true, sign: false }),
    /** Mutual TLS of the listener (and of the service's own clients); undefined: plaintext. */
    tls: tlsSettings(c),
  };
}

/** What {@link toolServiceSettings} answers. */
export type ToolServiceSettings = ReturnType<typeof toolServiceSettings>;
