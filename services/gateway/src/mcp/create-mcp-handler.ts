import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Client } from '@connectrpc/connect';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { type Clock, systemClock } from '@toolmesh/clock';
import type { RateLimiter, RateRule } from '@toolmesh/limits';
import type { Principal, RegistryService, ToolCallService } from '@toolmesh/proto';
import { Code, ConnectError } from '@toolmesh/rpc';
import { type Logger, type Registry, ROOT_CONTEXT, SpanKind, tracer } from '@toolmesh/telemetry';
import type { Authenticate } from '../authenticate.ts';
import type { SignAsCaller } from '../forward-as-caller.ts';
import { defaultPublicRule, rateLimitUser } from '../rate-limit-key.ts';
import { createMcpServer, type McpServerOptions } from './create-mcp-server.ts';
import { createMcpMetrics, mcpMethodLabel } from './mcp-metrics.ts';
import { createMcpSessions, type McpSession, type McpSessionsOptions, sessionOwner } from './mcp-sessions.ts';

/** The path the gateway serves MCP at. */
export const mcpPath = '/mcp';

/** Options of {@link createMcpHandler}. */
export interface McpHandlerOptions {
  authenticate: Authenticate;
  signAsCaller: SignAsCaller;
  registry: Client<typeof RegistryService>;
  toolCalls: Client<typeof ToolCallService>;
  rateLimiter: RateLimiter;
  /** Requests per (tenant, user), as every other public service; default 20/s, burst 40. */
  publicRate?: RateRule;
  logger: Logger;
  /** Largest request body; default 256 KiB (as the RPCs). */
  maxBodyBytes?: number;
  /** Deadline of a tools/call on the orchestrator; default 60 s. */
  callTimeoutMs?: number;
  /** The process's metrics registry (mcp_* series); absent: none. */
  metrics?: Registry;
  /** Times idle sessions out; default the system clock. */
  clock?: Clock;
  /** Bounds of the stateful sessions (idle time, per user, in total). */
  sessions?: Omit<McpSessionsOptions, 'clock' | 'onCount'>;
}

function refuse(
  res: http.ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
) {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

class BodyTooLarge extends Error {}

async function readJson(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/**
 * The gateway's MCP endpoint (streamable HTTP). Every request is authenticated like an RPC
 * (`Authorization: Bearer …` through the same Authenticate; none or unknown: 401 and no
 * tools) and rate limited per (tenant, user) under the public rule; what it lists and calls
 * goes to the orchestrator as that caller (see createMcpServer). The SDK negotiates the
 * protocol revision (the current one and earlier ones).
 *
 * Stateless by default (a server and transport per request, JSON responses), so any
 * gateway replica answers any request. A client whose initialize declares elicitation
 * gets a session instead (Mcp-Session-Id, SSE responses): a held write is then put to its
 * user as a question on the tools/call's own stream, and the answer comes back in the
 * session. Sessions belong to the caller who opened them: another caller's session id is
 * 404 like an unknown one.
 */
export function createMcpHandler(
  options: McpHandlerOptions,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const { logger } = options;
  const publicRule = options.publicRate ?? defaultPublicRule;
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
  const metrics = createMcpMetrics(options.metrics);
  const sessions = createMcpSessions({
    clock: options.clock ?? systemClock,
    ...options.sessions,
    onCount: metrics.sessions,
  });

  const serverFor = (asCaller: McpServerOptions['asCaller']) =>
    createMcpServer({
      registry: options.registry,
      toolCalls: options.toolCalls,
      asCaller,
      logger,
      callTimeoutMs: options.callTimeoutMs,
      onElicitation: metrics.elicitation,
    });

  // One request, one server and transport: nothing outlives the response.
  async function serveStateless(
    principal: Principal,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: unknown,
  ) {
    const requestId = randomUUID();
    const controller = new AbortController();
    res.once('close', () => controller.abort());
    const server = serverFor((signal) =>
      options.signAsCaller(principal, requestId, AbortSignal.any([signal, controller.signal])),
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.once('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  // A session for a client that can be asked: it lives until DELETE, idle expiry or close.
  async function openSession(
    principal: Principal,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: unknown,
  ) {
    const owner = sessionOwner(principal);
    if (!sessions.hasRoom(owner)) {
      return refuse(res, 429, -32000, 'too many open MCP sessions: end one (DELETE) or let it expire', {
        'retry-after': '60',
      });
    }
    const session: McpSession = {
      owner,
      principal,
      handle: (rq, rs, b) => transport.handleRequest(rq, rs, b),
      close: async () => {
        await transport.close();
        await server.close();
      },
    };
    // Each MCP request gets its own request id; the caller is the one last authenticated.
    const server = serverFor((signal) => options.signAsCaller(session.principal, randomUUID(), signal));
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => sessions.add(id, session),
      onsessionclosed: (id) => sessions.remove(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.remove(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const serve = async (req: http.IncomingMessage, res: http.ServerResponse, observe: Observed) => {
    let principal: Principal | undefined;
    try {
      principal = await options.authenticate(req.headers.authorization ?? null);
    } catch (error) {
      // As on the RPCs: an unreachable identity provider is the server's problem (503), a
      // refusal meant for the caller (a JWT without a tenant) says so; the cause is logged.
      logger.info({ err: error }, 'MCP request not authenticated');
      if (error instanceof ConnectError && error.code === Code.Unavailable) {
        return refuse(res, 503, -32000, 'identity provider unavailable; retry shortly', {
          'retry-after': '1',
        });
      }
      if (error instanceof ConnectError && error.code === Code.Unauthenticated) {
        return refuse(res, 401, -32001, error.rawMessage, { 'www-authenticate': 'Bearer' });
      }
      principal = undefined;
    }
    if (!principal) {
      return refuse(
        res,
        401,
        -32001,
        'missing or invalid credential: send "Authorization: Bearer <API key or JWT>"',
        {
          'www-authenticate': 'Bearer',
        },
      );
    }
    const decision = await options.rateLimiter.take(`rpc:mcp:${rateLimitUser(principal)}`, publicRule);
    if (!decision.allowed) {
      const seconds = Math.max(1, Math.ceil((decision.retryAfterMs ?? 1000) / 1000));
      return refuse(res, 429, -32000, 'rate limited: too many requests for this user', {
        'retry-after': String(seconds),
      });
    }
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = sessions.use(sessionId, sessionOwner(principal));
      if (!session) {
        return refuse(res, 404, -32001, 'session not found: start a new one with initialize');
      }
      session.principal = principal;
      if (req.method !== 'POST') return observe('stream', () => session.handle(req, res));
      const body = await readBody(req, res, maxBodyBytes);
      if (body === undefined) return;
      return observe(mcpMethodLabel(body), () => session.handle(req, res, body));
    }
    // Without a session there is no server-to-client stream to open or close.
    if (req.method !== 'POST') {
      return refuse(res, 405, -32000, 'method not allowed: send JSON-RPC messages with POST', {
        allow: 'POST',
      });
    }
    const body = await readBody(req, res, maxBodyBytes);
    if (body === undefined) return;
    const verified = principal;
    if (isInitializeRequest(body) && body.params.capabilities.elicitation) {
      return observe('initialize', () => openSession(verified, req, res, body));
    }
    return observe(mcpMethodLabel(body), () => serveStateless(verified, req, res, body));
  };

  return (req, res) => {
    const started = performance.now();
    let method = 'other';
    res.once('close', () => metrics.request(method, res.statusCode, (performance.now() - started) / 1000));
    // The MCP request's span: the orchestrator calls made for it are its children.
    const observe: Observed = (label, work) => {
      method = label;
      return tracer.startActiveSpan(
        `MCP ${label}`,
        { kind: SpanKind.SERVER, attributes: { 'mcp.method.name': label, 'http.route': mcpPath } },
        ROOT_CONTEXT,
        async (span) => {
          try {
            await work();
          } finally {
            span.setAttribute('http.response.status_code', res.statusCode);
            span.end();
          }
        },
      );
    };
    serve(req, res, observe).catch((error: unknown) => {
      logger.error({ err: error }, 'MCP request failed');
      refuse(res, 500, -32603, 'internal error');
    });
  };
}

type Observed = (method: string, work: () => Promise<void>) => Promise<void>;

// The JSON-RPC body, or undefined after answering why there is none.
async function readBody(req: http.IncomingMessage, res: http.ServerResponse, maxBytes: number) {
  try {
    return await readJson(req, maxBytes);
  } catch (error) {
    if (error instanceof BodyTooLarge) refuse(res, 413, -32600, 'request body too large');
    else refuse(res, 400, -32700, 'parse error: the body is not JSON');
    return undefined;
  }
}
