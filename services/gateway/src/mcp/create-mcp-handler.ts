import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Client } from '@connectrpc/connect';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { RateLimiter, RateRule } from '@toolmesh/limits';
import type { Principal, RegistryService, ToolCallService } from '@toolmesh/proto';
import { Code, ConnectError } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import type { Authenticate } from '../authenticate.ts';
import type { SignAsCaller } from '../forward-as-caller.ts';
import { defaultPublicRule, rateLimitUser } from '../rate-limit-key.ts';
import { createMcpServer } from './create-mcp-server.ts';

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
 * The gateway's MCP endpoint (streamable HTTP, stateless: a server and transport per
 * request, JSON responses). Every request is authenticated like an RPC (`Authorization:
 * Bearer …` through the same Authenticate; none or unknown: 401 and no tools) and rate
 * limited per (tenant, user) under the public rule; what it lists and calls goes to the
 * orchestrator as that caller (see createMcpServer). The SDK negotiates the protocol
 * revision (the current one and earlier ones).
 */
export function createMcpHandler(
  options: McpHandlerOptions,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const { logger } = options;
  const publicRule = options.publicRate ?? defaultPublicRule;
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;

  const serve = async (req: http.IncomingMessage, res: http.ServerResponse) => {
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
    // Stateless: no session to resume, so there is no server-to-client stream to open.
    if (req.method !== 'POST') {
      return refuse(res, 405, -32000, 'method not allowed: send JSON-RPC messages with POST', {
        allow: 'POST',
      });
    }
    let body: unknown;
    try {
      body = await readJson(req, maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) return refuse(res, 413, -32600, 'request body too large');
      return refuse(res, 400, -32700, 'parse error: the body is not JSON');
    }
    const requestId = randomUUID();
    const controller = new AbortController();
    res.once('close', () => controller.abort());
    const verified = principal;
    const server = createMcpServer({
      registry: options.registry,
      toolCalls: options.toolCalls,
      asCaller: () => options.signAsCaller(verified, requestId, controller.signal),
      logger,
      callTimeoutMs: options.callTimeoutMs,
    });
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
  };

  return (req, res) => {
    serve(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'MCP request failed');
      refuse(res, 500, -32603, 'internal error');
    });
  };
}
