import { readFileSync } from 'node:fs';
import {
  addressList,
  discoveryKind,
  host,
  logLevel,
  meshAuthEnv,
  meshAuthSettings,
  parseEnv,
  port,
  telemetryEnv,
  telemetrySettings,
  tlsEnv,
  tlsSettings,
  urlList,
} from '@toolmesh/config';
import { z } from 'zod';
import { type ApiKeys, parseApiKeys } from './identity/api-keys.ts';
import type {
  ApiKeySettings,
  EdgeIdentitySettings,
  JwtSettings,
} from './identity/create-edge-authenticator.ts';
import { parseJwks } from './identity/create-jwks-file-key-set.ts';

export type { ApiKeys } from './identity/api-keys.ts';

const readPermissions = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read'];

/**
 * The demo world's keys (DESIGN.md), accepted only when no credential is configured at all
 * (no TOOLMESH_API_KEYS variable, no JWKS) and never with NODE_ENV=production.
 */
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
  // An operator of the demo tenant: its audit log, its usage, and the registry with endpoint addresses.
  'dev-key-operator': {
    user_id: 'op_1',
    tenant_id: 't_demo',
    permissions: ['audit:read', 'registry:admin', 'usage:read'],
  },
};

const claimName = z.string().min(1).max(256);

const schema = z.object({
  PORT: port(8080),
  HOST: host,
  ...meshAuthEnv,
  ...tlsEnv,
  /**
   * The orchestrator replicas: DISCOVERY=static, their host:port (comma separated);
   * DISCOVERY=dns, names to resolve (every address of a headless Service is a replica).
   */
  ORCHESTRATOR_ADDR: addressList.default(['127.0.0.1:50051']),
  /** How the orchestrator replicas are found (as the orchestrator finds tool services). */
  DISCOVERY: discoveryKind,
  ETCD_ENDPOINTS: urlList.default(['http://127.0.0.1:2379']),
  /** DISCOVERY=etcd: where orchestrators register themselves (not the tool services' prefix). */
  ORCHESTRATOR_DISCOVERY_PREFIX: z.string().min(1).max(128).default('/toolmesh/orchestrators/'),
  /** DISCOVERY=dns: how often the names are resolved again. */
  DNS_REFRESH_MS: z.coerce.number().int().min(100).default(10_000),
  /** Consecutive transport failures that eject an orchestrator replica, and for how long. */
  BREAKER_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(5),
  BREAKER_HALF_OPEN_MS: z.coerce.number().int().min(100).default(2_000),
  // TOOLMESH_API_KEYS is read from the raw environment (see apiKeySettings): an explicitly
  // empty value means something different from an unset one, and parseEnv drops empty values.
  /** JWT bearer tokens: the issuer's JWKS endpoint (https; http only for localhost) … */
  TOOLMESH_JWKS_URL: z
    .url()
    .refine(
      (u) => /^https:/.test(u) || /^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?\//.test(u),
      'expected an https:// URL (http:// only for localhost)',
    )
    .optional(),
  /** … or a local JWKS file (a mounted ConfigMap), re-read when it changes. */
  TOOLMESH_JWKS_FILE: z.string().min(1).optional(),
  /** Required `iss` of a JWT; required with a JWKS. */
  TOOLMESH_JWT_ISSUER: z.string().min(1).optional(),
  /** Required `aud` of a JWT (comma-separated: any of them); required with a JWKS. */
  TOOLMESH_JWT_AUDIENCE: z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.string()).min(1))
    .optional(),
  /** Tolerated clock difference with the issuer when checking exp and nbf. */
  TOOLMESH_JWT_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
  /** Claims naming the user, the tenant and the permissions (default: `permissions` array, else `scope`). */
  TOOLMESH_JWT_USER_CLAIM: claimName.default('sub'),
  TOOLMESH_JWT_TENANT_CLAIM: claimName.default('tenant_id'),
  TOOLMESH_JWT_PERMISSIONS_CLAIM: claimName.optional(),
  /** Chat turns (Chat, ChatStream, Confirm) per second one user may start, and the burst allowed. */
  CHAT_RATE_PER_SEC: z.coerce.number().positive().default(5),
  CHAT_RATE_BURST: z.coerce.number().int().min(1).default(20),
  /** Calls per second one user may make to each other public service (tasks, audit, registry), and the burst. */
  PUBLIC_RATE_PER_SEC: z.coerce.number().positive().default(20),
  PUBLIC_RATE_BURST: z.coerce.number().int().min(1).default(40),
  /** Server streams (ChatStream, WatchTask) one user may hold open at once on one gateway replica. */
  MAX_OPEN_STREAMS_PER_USER: z.coerce.number().int().min(1).default(8),
  /**
   * Chat turns (Chat, ChatStream until it ends, Confirm) this gateway process forwards at once;
   * beyond it a turn is refused at once with RESOURCE_EXHAUSTED and a retry hint. The default is
   * one orchestrator's worth on a 2-core machine (docs/scaling.md); raise it with more orchestrators.
   */
  MAX_TURNS_IN_FLIGHT: z.coerce.number().int().min(1).default(64),
  /**
   * "true" (default): the bound adapts to observed turn latency between ADMISSION_MIN_TURNS and
   * MAX_TURNS_IN_FLIGHT (docs/scaling.md). Latency lowers it only in a window where it was
   * reached, so fewer callers than the bound, however slow, are never refused. "false": fixed.
   */
  ADMISSION_ADAPTIVE: z.enum(['true', 'false']).default('true'),
  /** Floor of the adaptive bound (at most MAX_TURNS_IN_FLIGHT). */
  ADMISSION_MIN_TURNS: z.coerce.number().int().min(1).default(4),
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

const problem = (message: string) => new Error(`invalid gateway configuration: ${message}`);

const readConfigFile = (variable: string, path: string) => {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw problem(`${variable}: cannot read ${path} (${code})`);
  }
};

/**
 * TOOLMESH_API_KEYS, from the raw environment: unset → none configured; a value starting
 * with `{` → the JSON itself; a value starting with `/` or `file:` → the path of a file
 * holding that JSON (e.g. a mounted Secret; re-read when it changes). Empty (`""`, `{}`,
 * an empty file) is an explicitly empty list.
 */
function apiKeySettings(raw: string | undefined): Exclude<ApiKeySettings, { source: 'dev' }> | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim();
  const parse = (text: string, where: string) => {
    try {
      return parseApiKeys(text);
    } catch (error) {
      throw problem(`TOOLMESH_API_KEYS${where}: ${(error as Error).message}`);
    }
  };
  if (value === '' || value.startsWith('{')) return { source: 'env', keys: parse(value, '') };
  if (value.startsWith('/') || value.startsWith('file:')) {
    const path = value.startsWith('file:') ? value.slice('file:'.length) : value;
    const text = readConfigFile('TOOLMESH_API_KEYS', path);
    return { source: 'file', path, text, keys: parse(text, ` (${path})`) };
  }
  throw problem(
    'TOOLMESH_API_KEYS: expected a JSON object of API keys, or the path of a file holding one (/abs/path or file:rel/path)',
  );
}

function jwtSettings(c: z.output<typeof schema>): JwtSettings | undefined {
  const url = c.TOOLMESH_JWKS_URL;
  const file = c.TOOLMESH_JWKS_FILE;
  if (url && file) throw problem('set TOOLMESH_JWKS_URL or TOOLMESH_JWKS_FILE, not both');
  if (!url && !file) {
    if (c.TOOLMESH_JWT_ISSUER || c.TOOLMESH_JWT_AUDIENCE) {
      throw problem(
        'TOOLMESH_JWT_ISSUER/TOOLMESH_JWT_AUDIENCE are set but no TOOLMESH_JWKS_URL or TOOLMESH_JWKS_FILE',
      );
    }
    return undefined;
  }
  const missing = [
    ...(c.TOOLMESH_JWT_ISSUER ? [] : ['TOOLMESH_JWT_ISSUER']),
    ...(c.TOOLMESH_JWT_AUDIENCE ? [] : ['TOOLMESH_JWT_AUDIENCE']),
  ];
  if (missing.length) throw problem(`a JWKS is configured, so ${missing.join(' and ')} must be set too`);
  let jwks: JwtSettings['jwks'];
  if (url) {
    jwks = { kind: 'url', url: new URL(url) };
  } else {
    const path = file as string;
    const text = readConfigFile('TOOLMESH_JWKS_FILE', path);
    try {
      parseJwks(text);
    } catch (error) {
      throw problem(`TOOLMESH_JWKS_FILE (${path}): ${(error as Error).message}`);
    }
    jwks = { kind: 'file', path, text };
  }
  return {
    jwks,
    issuer: c.TOOLMESH_JWT_ISSUER as string,
    audience: c.TOOLMESH_JWT_AUDIENCE as string[],
    clockSkewSeconds: c.TOOLMESH_JWT_CLOCK_SKEW_SECONDS,
    claims: {
      user: c.TOOLMESH_JWT_USER_CLAIM,
      tenant: c.TOOLMESH_JWT_TENANT_CLAIM,
      permissions: c.TOOLMESH_JWT_PERMISSIONS_CLAIM,
    },
  };
}

const configureCredentials =
  'set TOOLMESH_API_KEYS (a JSON object of API keys, or the path of a file holding one) and/or ' +
  'TOOLMESH_JWKS_URL or TOOLMESH_JWKS_FILE with TOOLMESH_JWT_ISSUER and TOOLMESH_JWT_AUDIENCE';

/**
 * Which credentials the gateway accepts. The development keys only when nothing is
 * configured, and never under NODE_ENV=production; an explicitly empty key list with no
 * JWKS would let nobody in and is refused too, rather than mistaken for "unset".
 */
function identitySettings(c: z.output<typeof schema>, env: NodeJS.ProcessEnv): EdgeIdentitySettings {
  const apiKeys = apiKeySettings(env.TOOLMESH_API_KEYS);
  const jwt = jwtSettings(c);
  if (!apiKeys && !jwt) {
    if (env.NODE_ENV === 'production') {
      throw problem(
        `NODE_ENV=production and no caller credentials are configured: ${configureCredentials}. ` +
          'The development API keys are never accepted in production.',
      );
    }
    return { apiKeys: { source: 'dev', keys: devApiKeys } };
  }
  if (apiKeys && Object.keys(apiKeys.keys).length === 0 && !jwt) {
    const where =
      apiKeys.source === 'file' ? `the file ${apiKeys.path} named by TOOLMESH_API_KEYS` : 'TOOLMESH_API_KEYS';
    throw problem(
      `${where} holds no API keys and no JWKS is configured, so no caller could authenticate: ` +
        `${configureCredentials} (or, for development only, unset TOOLMESH_API_KEYS for the demo keys).`,
    );
  }
  return { apiKeys, jwt };
}

/** Parses the environment once; throws naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv) {
  const c = parseEnv(schema, env, 'gateway');
  const identity = identitySettings(c, env);
  return {
    port: c.PORT,
    /** The gateway's signing key: every call it forwards carries a credential it signs. */
    meshAuth: meshAuthSettings(c, { verify: false, sign: true }),
    /** Mutual TLS toward the orchestrator (the public listener stays as is: TLS ends at your ingress). */
    tlsToOrchestrator: tlsSettings(c),
    host: c.HOST,
    /** Where the orchestrator replicas are: addresses or names, and how to follow them. */
    orchestrators: {
      addresses: c.ORCHESTRATOR_ADDR,
      discovery: {
        kind: c.DISCOVERY,
        etcd: { endpoints: c.ETCD_ENDPOINTS, prefix: c.ORCHESTRATOR_DISCOVERY_PREFIX },
        // The gateway only reads the registry; it registers nothing.
        ttlSeconds: 10,
      },
      dnsRefreshMs: c.DNS_REFRESH_MS,
      breaker: { failureThreshold: c.BREAKER_FAILURE_THRESHOLD, halfOpenAfterMs: c.BREAKER_HALF_OPEN_MS },
    },
    /** API keys and JWT settings: what createEdgeAuthenticator needs. */
    identity,
    usingDevKeys: identity.apiKeys?.source === 'dev',
    defaultDeadlineMs: c.DEFAULT_DEADLINE_MS,
    chatRate: { ratePerSec: c.CHAT_RATE_PER_SEC, burst: c.CHAT_RATE_BURST },
    publicRate: { ratePerSec: c.PUBLIC_RATE_PER_SEC, burst: c.PUBLIC_RATE_BURST },
    maxOpenStreamsPerUser: c.MAX_OPEN_STREAMS_PER_USER,
    maxTurnsInFlight: c.MAX_TURNS_IN_FLIGHT,
    /** Floor of the adaptive admission bound; undefined: the bound is fixed. */
    adaptiveAdmission: c.ADMISSION_ADAPTIVE === 'true' ? { minLimit: c.ADMISSION_MIN_TURNS } : undefined,
    redisUrl: c.REDIS_URL,
    redisPrefix: c.REDIS_PREFIX,
    corsOrigins: c.CORS_ALLOWED_ORIGINS,
    logLevel: c.LOG_LEVEL,
    /** METRICS_PORT and the OTEL_* variables. */
    telemetry: telemetrySettings(c),
  };
}
