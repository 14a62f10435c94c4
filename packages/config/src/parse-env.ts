import { z } from 'zod';

/** A TCP port with a default. */
export const port = (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback);

/** The interface to listen on; loopback unless told otherwise. */
export const host = z.string().min(1).default('127.0.0.1');

/** host:port of a peer. */
export const hostAddress = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/, 'expected host:port');

// A non-empty comma-separated list whose items each pass `item`.
const commaList = <T extends z.ZodType<unknown, string>>(item: T) =>
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1));

/** Comma-separated host:port list. */
export const addressList = commaList(hostAddress);

/** A postgres:// URL; absent means the embedded database. */
export const postgresUrl = z.url({ protocol: /^postgres(ql)?$/ }).optional();

/**
 * DATABASE_POOL_SIZE: connections one process may open to Postgres (default 10). Size it
 * with the replica count: Postgres's max_connections is shared by every process.
 */
export const databasePoolSize = z.coerce.number().int().min(1).max(1_000).default(10);

/**
 * DATABASE_PREPARED_STATEMENTS: `on` (default) prepares each parameterized statement once per
 * connection; `off` behind a pooler in transaction mode that cannot keep them (PgBouncer before
 * 1.21, or without `max_prepared_statements`). Parsed to a boolean.
 */
export const databasePreparedStatements = z
  .enum(['on', 'off'])
  .default('on')
  .transform((v) => v === 'on');

/** pino levels. */
export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');

/**
 * Parses a service's environment once. An empty variable (`PORT=` in a compose
 * file) counts as unset; every invalid variable is named in the error.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: NodeJS.ProcessEnv,
  service: string,
): z.output<S> {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`);
    throw new Error(`invalid ${service} configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Comma-separated URLs, e.g. etcd client endpoints. */
export const urlList = commaList(z.url());

/** How tool services are found: fixed addresses, DNS names, or an etcd registry. */
export const discoveryKind = z.enum(['static', 'dns', 'etcd']).default('static');

/**
 * The discovery variables every service shares: `DISCOVERY`, `ETCD_ENDPOINTS`,
 * `DISCOVERY_PREFIX`; tool services also read `ADVERTISE_ADDR` and
 * `REGISTRATION_TTL_SECONDS` (they register themselves when DISCOVERY=etcd).
 */
export const discoveryEnv = {
  DISCOVERY: discoveryKind,
  ETCD_ENDPOINTS: urlList.default(['http://127.0.0.1:2379']),
  DISCOVERY_PREFIX: z.string().min(1).max(128).default('/toolmesh/services/'),
  /** host:port at which others reach this replica; default HOST:PORT (the host name when HOST=0.0.0.0). */
  ADVERTISE_ADDR: hostAddress.optional(),
  REGISTRATION_TTL_SECONDS: z.coerce.number().int().min(1).max(300).default(10),
};

/** The parsed {@link discoveryEnv}, shaped for @toolmesh/discovery. */
export function discoverySettings(c: {
  DISCOVERY: 'static' | 'dns' | 'etcd';
  ETCD_ENDPOINTS: string[];
  DISCOVERY_PREFIX: string;
  ADVERTISE_ADDR?: string | undefined;
  REGISTRATION_TTL_SECONDS: number;
}) {
  return {
    kind: c.DISCOVERY,
    etcd: { endpoints: c.ETCD_ENDPOINTS, prefix: c.DISCOVERY_PREFIX },
    advertiseAddress: c.ADVERTISE_ADDR,
    ttlSeconds: c.REGISTRATION_TTL_SECONDS,
  };
}
