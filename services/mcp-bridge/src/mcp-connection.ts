import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type Tool as McpTool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { Clock, ClockTimer } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import { ToolFailure, toolErrors } from '@toolmesh/tool-sdk';
import type { ListingReason } from './bridge-metrics.ts';
import type { McpServerConfig } from './mcp-servers-file.ts';

/** Options of {@link createMcpConnection}. */
export interface McpConnectionOptions {
  server: McpServerConfig;
  logger: Logger;
  /** Times reconnects and restarts. */
  clock: Clock;
  /** First reconnect delay, doubled per failed attempt up to `maxBackoffMs`; default 250 ms. */
  initialBackoffMs?: number;
  /** Default 5 s. */
  maxBackoffMs?: number;
  /** Hears every listing of the server's tools and why it was made (metrics). */
  onListed?: (reason: ListingReason, tools: number) => void;
}

/** A client of one MCP server that stays connected: reconnects (HTTP) or restarts (stdio) with backoff. */
export interface McpConnection {
  readonly server: McpServerConfig;
  /**
   * The server's tools as last listed (re-listed on notifications/tools/list_changed and on every
   * reconnect); the same array until the listing changes.
   */
  tools(): McpTool[];
  /** Resolves once the server answered its first tools/list. */
  ready(signal: AbortSignal): Promise<void>;
  /** Calls one tool; an unreachable server fails with a retryable UNAVAILABLE ToolFailure. */
  call(
    name: string,
    args: unknown,
    options: { signal: AbortSignal; timeoutMs: number },
  ): Promise<CallToolResult>;
  close(): Promise<void>;
}

const bounded = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** Connects to an MCP server with the official SDK's client and keeps the connection up. */
export function createMcpConnection(options: McpConnectionOptions): McpConnection {
  const { server, clock } = options;
  const logger = options.logger.child({ mcp_server: server.name });
  const initialBackoffMs = options.initialBackoffMs ?? 250;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  let client: Client | undefined;
  let listed: McpTool[] = [];
  let attempt = 0;
  let timer: ClockTimer | undefined;
  let closed = false;
  let connecting = false;
  const firstListing = Promise.withResolvers<void>();

  async function relist(c: Client, reason: ListingReason) {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await c.listTools(cursor ? { cursor } : undefined);
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    // The same listing keeps its array, so the published tool set changes only when the tools do.
    if (JSON.stringify(tools) !== JSON.stringify(listed)) listed = tools;
    logger.info({ tools: tools.length, reason }, 'MCP tools listed');
    options.onListed?.(reason, tools.length);
    firstListing.resolve();
  }

  function transport() {
    const t = server.transport;
    if (t.kind === 'http')
      return new StreamableHTTPClientTransport(new URL(t.url), { requestInit: { headers: t.headers } });
    // The server runs with its own environment and credentials, never ours beyond the basics (PATH …).
    return new StdioClientTransport({
      command: t.command,
      args: t.args,
      env: { ...getDefaultEnvironment(), ...t.env },
      stderr: 'inherit',
    });
  }

  async function connect() {
    if (closed || client || connecting) return;
    connecting = true;
    const c = new Client({ name: 'toolmesh-mcp-bridge', version: '0.1.0' }, { capabilities: {} });
    try {
      c.onclose = () => lost(c, 'connection closed');
      c.onerror = (error) => logger.debug({ err: error }, 'MCP transport error');
      c.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        relist(c, 'list_changed').catch((error: unknown) =>
          logger.warn({ err: error }, 'MCP tools/list failed'),
        );
      });
      const t = transport();
      await c.connect(t);
      if (t instanceof StdioClientTransport) logger.info({ pid: t.pid }, 'MCP server process started');
      await relist(c, 'connect');
      client = c;
      attempt = 0;
      logger.info('MCP server connected');
    } catch (error) {
      logger.warn({ err: error }, 'MCP server unreachable; retrying');
      c.onclose = undefined;
      await c.close().catch(() => {});
      schedule();
    } finally {
      connecting = false;
    }
  }

  function schedule() {
    if (closed || timer) return;
    const delay = Math.min(maxBackoffMs, initialBackoffMs * 2 ** attempt);
    attempt++;
    timer = clock.setTimeout(() => {
      timer = undefined;
      void connect();
    }, delay);
    timer.unref();
  }

  // A stdio server that exited, or an HTTP server that stopped answering: reconnect with backoff.
  function lost(c: Client, why: string) {
    if (client !== c) return;
    client = undefined;
    logger.warn({ why }, 'MCP server lost; reconnecting');
    c.onclose = undefined;
    void c.close().catch(() => {});
    schedule();
  }

  void connect();

  return {
    server,
    tools: () => listed,
    async ready(signal) {
      signal.throwIfAborted();
      await Promise.race([
        firstListing.promise,
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
      ]);
    },
    async call(name, args, { signal, timeoutMs }) {
      const c = client;
      if (!c) {
        schedule();
        throw toolErrors.unavailable(`MCP server ${server.name} is unreachable`);
      }
      try {
        return (await c.callTool({ name, arguments: args as Record<string, unknown> }, undefined, {
          signal,
          timeout: timeoutMs,
        })) as CallToolResult;
      } catch (error) {
        // Our own timeout or the caller's cancellation: the tool SDK reports it.
        if (signal.aborted) throw error;
        if (error instanceof McpError && error.code !== ErrorCode.ConnectionClosed) {
          if (error.code === ErrorCode.RequestTimeout)
            throw new ToolFailure('TIMEOUT', `${name} timed out`, false, { cause: error });
          throw new ToolFailure(
            'FAILED_PRECONDITION',
            `the MCP server refused the call (${error.code}): ${bounded(error.message)}`,
            false,
            { cause: error },
          );
        }
        lost(c, 'call failed');
        throw new ToolFailure('UNAVAILABLE', `MCP server ${server.name} is unreachable`, true, {
          cause: error,
        });
      }
    },
    async close() {
      closed = true;
      timer?.cancel();
      const c = client;
      client = undefined;
      if (c) {
        c.onclose = undefined;
        await c.close().catch(() => {});
      }
    },
  };
}
