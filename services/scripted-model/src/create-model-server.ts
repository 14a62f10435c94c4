import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import { buildCompletion, type CompletionMeta, type Usage } from './build-completion.ts';
import { buildCompletionChunks } from './build-completion-chunks.ts';
import { type ChatCompletionRequest, parseChatCompletionRequest } from './chat-completion-request.ts';
import { estimateTokens } from './estimate-tokens.ts';
import { openAiError } from './openai-error.ts';
import { type PlannedTurn, planTurn } from './plan-turn.ts';
import { writeSse } from './write-sse.ts';

/** Options of {@link createModelServer}. */
export interface ModelServerOptions {
  logger: Logger;
  /** Think time before each chat completion, for benchmarks; default 0. */
  latencyMs?: number;
  /** Times the think time; default the system clock. */
  clock?: Clock;
  /** The one model listed by /v1/models; default "toolmesh-scripted". Requests may name any model. */
  modelId?: string;
  /** Largest request body accepted; default 4 MiB. */
  maxBodyBytes?: number;
}

/** An OpenAI-compatible HTTP server answering with the scripted planner. */
export interface ModelServer {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, ends idle keep-alive connections, and cuts the rest after graceMs (default 5 s). */
  close(graceMs?: number): Promise<void>;
}

/** Builds the server; nothing listens until {@link ModelServer.listen}. */
export function createModelServer(options: ModelServerOptions): ModelServer {
  const { logger } = options;
  const latencyMs = Math.max(0, options.latencyMs ?? 0);
  const clock = options.clock ?? systemClock;
  const modelId = options.modelId ?? 'toolmesh-scripted';
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
  const startedAt = unixSeconds();
  // Aborts think time on close, so shutdown does not wait for answers nobody will read.
  const closing = new AbortController();

  async function chatCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req, maxBodyBytes);
    if (raw === undefined)
      return sendJson(res, 413, openAiError(`Request body exceeds ${maxBodyBytes} bytes.`));
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return sendJson(res, 400, openAiError('We could not parse the JSON body of your request.'));
    }
    const parsed = parseChatCompletionRequest(body);
    if (!parsed.ok) {
      logger.warn({ reason: parsed.message }, 'bad chat completion request');
      return sendJson(res, 400, openAiError(parsed.message));
    }
    const { request } = parsed;
    const turn = planTurn({
      messages: request.messages,
      tools: (request.tools ?? []).map((tool) => tool.function.name),
      toolChoice: request.tool_choice ?? undefined,
      parallelToolCalls: request.parallel_tool_calls ?? undefined,
    });
    if (latencyMs > 0) {
      try {
        await clock.sleep(latencyMs, closing.signal);
      } catch {
        res.destroy();
        return;
      }
    }
    const meta: CompletionMeta = {
      id: `chatcmpl-${randomUUID().replaceAll('-', '')}`,
      created: unixSeconds(),
      model: request.model,
    };
    const usage = usageOf(request, turn);
    if (request.stream) {
      const includeUsage = request.stream_options?.include_usage === true;
      await writeSse(res, buildCompletionChunks(turn, meta, includeUsage ? { usage } : {}));
      return;
    }
    sendJson(res, 200, buildCompletion(turn, meta, usage));
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const isGet = method === 'GET' || method === 'HEAD';
    if (path === '/healthz' && isGet) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok');
      return;
    }
    if (path === '/v1/models' && isGet) {
      return sendJson(res, 200, { object: 'list', data: [modelCard(modelId, startedAt)] });
    }
    if (path.startsWith('/v1/models/') && isGet) {
      const id = safeDecode(path.slice('/v1/models/'.length));
      if (id === modelId) return sendJson(res, 200, modelCard(modelId, startedAt));
      return sendJson(res, 404, openAiError(`The model '${id}' does not exist.`));
    }
    if (path === '/v1/chat/completions') {
      if (method === 'POST') return chatCompletion(req, res);
      return sendJson(res, 405, openAiError(`Method ${method} not allowed on ${path}; use POST.`));
    }
    sendJson(res, 404, openAiError(`Invalid URL (${method} ${path}).`));
  }

  const server = http.createServer((req, res) => {
    const started = performance.now();
    res.once('finish', () => {
      const durationMs = Math.round(performance.now() - started);
      logger.debug({ method: req.method, url: req.url, status: res.statusCode, durationMs }, 'request');
    });
    route(req, res).catch((error: unknown) => {
      logger.error({ err: error, method: req.method, url: req.url }, 'request failed');
      if (res.headersSent) res.destroy();
      else
        sendJson(
          res,
          500,
          openAiError('The server had an error while processing your request.', 'server_error'),
        );
    });
  });

  return {
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    async close(graceMs = 5_000) {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive sockets of SDK clients would otherwise hold close() open.
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      logger.info('scripted model stopped');
    },
  };
}

function usageOf(request: ChatCompletionRequest, turn: PlannedTurn): Usage {
  const prompt = JSON.stringify(request.messages) + (request.tools ? JSON.stringify(request.tools) : '');
  const completion = (turn.content ?? '') + turn.toolCalls.map((call) => call.name + call.arguments).join('');
  const prompt_tokens = estimateTokens(prompt);
  const completion_tokens = estimateTokens(completion);
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}

function modelCard(id: string, created: number) {
  return { id, object: 'model', created, owned_by: 'toolmesh' };
}

// Reads the whole body; an oversized one is drained (not stored) so the 413 can still be sent.
async function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? undefined : Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
