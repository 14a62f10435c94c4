import { host, logLevel, parseEnv, port, telemetryEnv, telemetrySettings } from '@toolmesh/config';
import { z } from 'zod';

const principalSchema = z.object({
  user_id: z.string().min(1),
  tenant_id: z.string().min(1),
  permissions: z.array(z.string().min(1)),
});

/** API keys and the principal each one stands for. */
export type ApiKeys = Record<string, z.infer<typeof principalSchema>>;

const readPermissions = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read'];

/** The demo world's keys (DESIGN.md). Development only: set TOOLMESH_API_KEYS in production. */
export const devApiKeys: ApiKeys = {
  'dev-key-u1001': {
    user_id: 'u_1001',
    tenant_id: 't_demo',
    permissions: [...readPermissions, 'ticket:write'],
  },
  'dev-key-u2002': {
    user_id: 'u_2002',
    tenant_id: 't_demo',
    permissions: [...readPermissions, 'ticket:write'],
  },
  'dev-key-readonly': { user_id: 'u_1001', tenant_id: 't_demo', permissions: readPermissions },
  'dev-key-operator': { user_id: 'op_1', tenant_id: 't_demo', permissions: ['audit:read'] },
};

const schema = z.object({
  PORT: port(8080),
  HOST: host,
  ORCHESTRATOR_ADDR: z
    .string()
    .regex(/^[\w.-]+:\d{1,5}$/, 'expected host:port')
    .default('127.0.0.1:50051'),
  /** JSON object: api key → {user_id, tenant_id, permissions}. Unset means the dev keys. */
  TOOLMESH_API_KEYS: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.record(z.string().min(16, 'api keys must have at least 16 characters'), principalSchema))
    .optional(),
  /** Chat turns per second one user may start, and the burst allowed. */
  CHAT_RATE_PER_SEC: z.coerce.number().positive().default(5),
  CHAT_RATE_BURST: z.coerce.number().int().min(1).default(20),
  /** Shares rate limits across gateway replicas; unset keeps them in process. */
  REDIS_URL: z.string().url().optional(),
  /** Prefix of every Redis key, so several meshes (or test runs) can share one Redis. */
  REDIS_PREFIX: z.string().max(64).default('toolmesh:'),
  /** Deadline of a Chat whose caller set none. */
  DEFAULT_DEADLINE_MS: z.coerce.number().int().min(100).default(120_000),
  /** Browser origins allowed to call (comma separated, or *); unset: no CORS. */
  CORS_ALLOWED_ORIGINS: z
    .string()
    .transform((v) =>
      v.trim() === '*'
        ? ('*' as const)
        : v
            .split(',')
            .map((o) => o.trim())
            .filter(Boolean),
    )
    .optional(),
  LOG_LEVEL: logLevel,
  ...telemetryEnv(9_400),
});

/** The gateway's settings. */
export type Config = ReturnType<typeof loadConfig>;

/** Parses the environment once; throws naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv) {
  const c = parseEnv(schema, env, 'gateway');
  return {
    port: c.PORT,
    host: c.HOST,
    orchestratorAddress: c.ORCHESTRATOR_ADDR,
    apiKeys: c.TOOLMESH_API_KEYS ?? devApiKeys,
    usingDevKeys: c.TOOLMESH_API_KEYS === undefined,
    defaultDeadlineMs: c.DEFAULT_DEADLINE_MS,
    chatRate: { ratePerSec: c.CHAT_RATE_PER_SEC, burst: c.CHAT_RATE_BURST },
    redisUrl: c.REDIS_URL,
    redisPrefix: c.REDIS_PREFIX,
    corsOrigins: c.CORS_ALLOWED_ORIGINS,
    logLevel: c.LOG_LEVEL,
    /** METRICS_PORT and the OTEL_* variables. */
    telemetry: telemetrySettings(c),
  };
}
