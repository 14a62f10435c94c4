import {
  databasePoolSize,
  databasePreparedStatements,
  discoveryEnv,
  discoverySettings,
  host,
  logLevel,
  meshAuthEnv,
  meshAuthSettings,
  parseEnv,
  port,
  postgresUrl,
  telemetryEnv,
  telemetrySettings,
  tlsEnv,
  tlsSettings,
} from '@toolmesh/config';
import { z } from 'zod';

// `[service=]host:port`, comma-separated: a static or DNS entry may name its service.
const namedAddressList = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z
          .string()
          .regex(/^([\w.-]{1,128}=)?(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/, 'expected [service=]host:port'),
      )
      .min(1),
  );

const schema = z.object({
  PORT: port(50051),
  HOST: host,
  ...meshAuthEnv,
  ...tlsEnv,
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_SIZE: databasePoolSize,
  DATABASE_PREPARED_STATEMENTS: databasePreparedStatements,
  ...discoveryEnv,
  /**
   * DISCOVERY=static: the tool services' `[service=]host:port`; DISCOVERY=dns: names to resolve
   * (all addresses). The service name (else the host name's first label) is the identity the
   * publishing policy checks.
   */
  TOOL_SERVICES: namedAddressList.default([
    'order=127.0.0.1:50061',
    'inventory=127.0.0.1:50062',
    'dispatch=127.0.0.1:50063',
    'ticket=127.0.0.1:50064',
  ]),
  /**
   * The publishing policy file (YAML: which service may publish which tool names, versions'
   * rollout weights); unset: any service may publish any name (a warning is logged).
   */
  TOOLMESH_PUBLISHING_POLICY: z.string().min(1).optional(),
  /** How often the publishing policy file is checked for changes. */
  PUBLISHING_POLICY_CHECK_MS: z.coerce.number().int().min(100).default(5_000),
  /** DISCOVERY=etcd: where this replica registers itself for the gateways (not the tool services' prefix). */
  ORCHESTRATOR_DISCOVERY_PREFIX: z.string().min(1).max(128).default('/toolmesh/orchestrators/'),
  TOOL_REFRESH_MS: z.coerce.number().int().min(1_000).default(30_000),
  /** DISCOVERY=dns: how often names are resolved again. */
  DNS_REFRESH_MS: z.coerce.number().int().min(100).default(10_000),
  /**
   * The assistants file (YAML: assistants, model backends, tenants' budgets); unset: one
   * neutral assistant on the model below.
   */
  TOOLMESH_ASSISTANTS: z.string().min(1).optional(),
  /** How often the assistants file is checked for changes. */
  ASSISTANTS_CHECK_MS: z.coerce.number().int().min(100).default(5_000),
  /** Any OpenAI-compatible endpoint; the default is the scripted model of `npm start`. */
  OPENAI_BASE_URL: z.string().url().default('http://127.0.0.1:50070/v1'),
  OPENAI_API_KEY: z.string().min(1).default('scripted-model-needs-no-key'),
  TOOLMESH_MODEL: z.string().min(1).default('toolmesh-scripted'),
  MODEL_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  /**
   * An egress proxy in front of the model backends, by the usual variables (lowercase too):
   * the proxy for https and for http model URLs, and hosts reached directly. Unset: direct.
   */
  HTTPS_PROXY: z.string().min(1).optional(),
  https_proxy: z.string().min(1).optional(),
  HTTP_PROXY: z.string().min(1).optional(),
  http_proxy: z.string().min(1).optional(),
  NO_PROXY: z.string().optional(),
  no_proxy: z.string().optional(),
  /** Consecutive failed model calls that open the model's breaker, and how long it stays open. */
  MODEL_BREAKER_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(5),
  MODEL_BREAKER_HALF_OPEN_MS: z.coerce.number().int().min(100).default(10_000),
  MAX_ROUNDS: z.coerce.number().int().min(1).max(50).default(8),
  APPROVAL_TTL_SECONDS: z.coerce.number().int().min(1).default(900),
  MAX_TOOL_CALLS_PER_ROUND: z.coerce.number().int().min(1).max(128).default(8),
  MAX_ARGUMENT_BYTES: z.coerce.number().int().min(64).default(16_384),
  MAX_TOOL_OUTPUT_CHARS: z.coerce.number().int().min(100).default(8_000),
  /**
   * Tools offered per model request, at most; a larger registry is narrowed per
   * conversation. Long tool lists cost prompt tokens on every call and blur the
   * model's choice; OpenAI refuses more than 128.
   */
  MAX_OFFERED_TOOLS: z.coerce.number().int().min(1).max(128).default(32),
  CONTEXT_BUDGET_TOKENS: z.coerce.number().int().min(500).default(12_000),
  MAX_CONCURRENT_TOOL_CALLS: z.coerce.number().int().min(1).default(64),
  TOOL_QUEUE_TIMEOUT_MS: z.coerce.number().int().min(0).default(5_000),
  TOOL_RATE_PER_SEC: z.coerce.number().positive().default(10),
  TOOL_RATE_BURST: z.coerce.number().int().min(1).default(30),
  /** Consecutive transport failures that open a tool endpoint's breaker, and how long it stays open. */
  BREAKER_FAILURE_THRESHOLD: z.coerce.number().int().min(1).default(5),
  BREAKER_HALF_OPEN_MS: z.coerce.number().int().min(100).default(5_000),
  /**
   * Chat turns (Chat, ChatStream until it ends, Confirm) this process runs at once; beyond it a
   * turn is refused at once with RESOURCE_EXHAUSTED and a retry hint (a gateway then tries
   * another replica). Default: ~200 chats/s at c32 on a 2-core machine × ~0.3 s (docs/scaling.md).
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
  CONVERSATION_LEASE_MS: z.coerce.number().int().min(300).default(30_000),
  /** Executions running longer than this (and approved writes not finished) are reconciled. */
  RECONCILE_STALE_MS: z.coerce.number().int().min(0).default(120_000),
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(30_000),
  /** Shares rate limits across replicas; unset keeps them in process. */
  REDIS_URL: z.string().url().optional(),
  /** The read cache of tools that declare a cache_ttl; "off" always calls the tool. */
  READ_CACHE: z.enum(['on', 'off']).default('on'),
  /** Prefix of every Redis key, so several meshes (or test runs) can share one Redis. */
  REDIS_PREFIX: z.string().max(64).default('toolmesh:'),
  LOG_LEVEL: logLevel,
  ...telemetryEnv(9_401),
});

/** The orchestrator's settings, parsed once from the environment. */
export type Config = ReturnType<typeof loadConfig>;

/** Parses the environment; throws naming each invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv) {
  const c = parseEnv(schema, env, 'orchestrator');
  return {
    port: c.PORT,
    host: c.HOST,
    /** Verifies the gateway's credentials and signs those of tool calls. */
    meshAuth: meshAuthSettings(c, { verify: true, sign: true }),
    /** Mutual TLS of the listener and of the calls to tool services; undefined: plaintext. */
    tls: tlsSettings(c),
    databaseUrl: c.DATABASE_URL,
    /** Connections this replica may open to the database. */
    databasePoolSize: c.DATABASE_POOL_SIZE,
    /** Whether statements are prepared per connection (off behind a pooler that cannot keep them). */
    databasePreparedStatements: c.DATABASE_PREPARED_STATEMENTS,
    toolServices: c.TOOL_SERVICES,
    discovery: discoverySettings(c),
    /** DISCOVERY=etcd: this replica's own registration, under which the gateways find it. */
    registration: {
      ...discoverySettings(c),
      etcd: { endpoints: c.ETCD_ENDPOINTS, prefix: c.ORCHESTRATOR_DISCOVERY_PREFIX },
    },
    dnsRefreshMs: c.DNS_REFRESH_MS,
    toolRefreshMs: c.TOOL_REFRESH_MS,
    /** The publishing policy file; undefined: any service may publish any name. */
    publishingPolicyFile: c.TOOLMESH_PUBLISHING_POLICY,
    publishingPolicyCheckMs: c.PUBLISHING_POLICY_CHECK_MS,
    endpointPolicy: {
      failureThreshold: c.BREAKER_FAILURE_THRESHOLD,
      halfOpenAfterMs: c.BREAKER_HALF_OPEN_MS,
    },
    /** The assistants file; undefined: the neutral default assistant. */
    assistantsFile: c.TOOLMESH_ASSISTANTS,
    assistantsCheckMs: c.ASSISTANTS_CHECK_MS,
    model: {
      baseURL: c.OPENAI_BASE_URL,
      apiKey: c.OPENAI_API_KEY,
      model: c.TOOLMESH_MODEL,
      timeoutMs: c.MODEL_TIMEOUT_MS,
      /** The egress proxy of every model backend; undefined: reached directly. */
      proxy: modelProxy(c),
    },
    modelBreaker: {
      failureThreshold: c.MODEL_BREAKER_FAILURE_THRESHOLD,
      halfOpenAfterMs: c.MODEL_BREAKER_HALF_OPEN_MS,
    },
    maxRounds: c.MAX_ROUNDS,
    redisUrl: c.REDIS_URL,
    redisPrefix: c.REDIS_PREFIX,
    readCache: c.READ_CACHE === 'on',
    conversationLeaseMs: c.CONVERSATION_LEASE_MS,
    maxTurnsInFlight: c.MAX_TURNS_IN_FLIGHT,
    /** Floor of the adaptive admission bound; undefined: the bound is fixed. */
    adaptiveAdmission: c.ADMISSION_ADAPTIVE === 'true' ? { minLimit: c.ADMISSION_MIN_TURNS } : undefined,
    reconcile: { staleMs: c.RECONCILE_STALE_MS, intervalMs: c.RECONCILE_INTERVAL_MS },
    execution: {
      maxConcurrent: c.MAX_CONCURRENT_TOOL_CALLS,
      queueTimeoutMs: c.TOOL_QUEUE_TIMEOUT_MS,
      perUserToolRate: { ratePerSec: c.TOOL_RATE_PER_SEC, burst: c.TOOL_RATE_BURST },
    },
    approvalTtlSeconds: c.APPROVAL_TTL_SECONDS,
    limits: {
      maxToolCallsPerRound: c.MAX_TOOL_CALLS_PER_ROUND,
      maxArgumentBytes: c.MAX_ARGUMENT_BYTES,
      maxToolOutputChars: c.MAX_TOOL_OUTPUT_CHARS,
      contextBudgetTokens: c.CONTEXT_BUDGET_TOKENS,
      maxOfferedTools: c.MAX_OFFERED_TOOLS,
    },
    logLevel: c.LOG_LEVEL,
    /** METRICS_PORT and the OTEL_* variables. */
    telemetry: telemetrySettings(c),
  };
}

function modelProxy(c: {
  HTTPS_PROXY?: string;
  https_proxy?: string;
  HTTP_PROXY?: string;
  http_proxy?: string;
  NO_PROXY?: string;
  no_proxy?: string;
}): { httpProxy?: string; httpsProxy?: string; noProxy?: string } | undefined {
  const httpsProxy = proxyUrl('HTTPS_PROXY', c.HTTPS_PROXY ?? c.https_proxy);
  const httpProxy = proxyUrl('HTTP_PROXY', c.HTTP_PROXY ?? c.http_proxy);
  if (!httpsProxy && !httpProxy) return undefined;
  // A proxy cannot reach this host's loopback: a local model (the scripted one of `npm start`,
  // a sidecar) is always reached directly, whatever a shell's proxy variables say.
  const noProxy = [c.NO_PROXY ?? c.no_proxy, 'localhost', '127.0.0.1', '::1'].filter(Boolean).join(',');
  return { httpsProxy: httpsProxy ?? httpProxy, httpProxy, noProxy };
}

// "proxy:3128" is as common in these variables as "http://proxy:3128" (curl takes both).
function proxyUrl(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined;
  const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  if (!URL.canParse(url)) throw new Error(`${name}: not a proxy URL`);
  return url;
}
