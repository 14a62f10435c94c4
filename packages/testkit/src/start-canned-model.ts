import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the orchestrator sent to the model (the parts tests look at). */
export interface CannedRequest {
  messages: { role: string; content?: string | null; tool_call_id?: string; tool_calls?: unknown[] }[];
  tools?: { function: { name: string } }[];
  tool_choice?: unknown;
  stream?: boolean;
}

/** The model's answer: text and/or tool calls (arguments are raw text, so tests can send broken JSON). */
export interface CannedAnswer {
  content?: string | null;
  toolCalls?: { id?: string; name: string; arguments: string }[];
  /** Answer with this HTTP status instead (e.g. 500, 429). */
  status?: number;
  /** With `status`: a Retry-After in milliseconds (sent as `retry-after-ms`, as OpenAI does). */
  retryAfterMs?: number;
  /** Think this long before answering (a slow model). */
  delayMs?: number;
  /** Never answer: the request ends only when the caller gives up (a hung model). */
  hang?: boolean;
}

/** Something the canned model saw happen to one request, in the order it happened. */
export interface CannedEvent {
  /** Index of the request in {@link CannedModel.requests}. */
  request: number;
  /**
   * `received`: the request arrived; `answered`: the answer was sent (with its HTTP
   * status); `abandoned`: the caller closed the connection before the answer was complete.
   */
  kind: 'received' | 'answered' | 'abandoned';
  status?: number;
  /** The Retry-After sent with a failure, in milliseconds. */
  retryAfterMs?: number;
  /** When, by the wall clock (for figures only: tests assert the order of events, not times). */
  at: number;
}

/** A running canned model. */
export interface CannedModel {
  /** For OPENAI_BASE_URL. */
  readonly baseUrl: string;
  /** Every request received, in order. */
  readonly requests: CannedRequest[];
  /** What happened to the requests, in order: arrivals, answers, abandoned calls. */
  readonly events: CannedEvent[];
  /** TCP connections accepted so far (a client that keeps its connections alive opens few). */
  connections(): number;
  close(): Promise<void>;
}

let callCounter = 0;

/**
 * An OpenAI-compatible server whose answers a test scripts: the only fake in the
 * test suite is the model, as no real one is reachable here. It lets tests make
 * the model misbehave (unknown tools, broken JSON, endless tool calls).
 */
export async function startCannedModel(
  respond: (request: CannedRequest, index: number) => CannedAnswer | Promise<CannedAnswer>,
): Promise<CannedModel> {
  const requests: CannedRequest[] = [];
  const events: CannedEvent[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as CannedRequest;
    const index = requests.push(body) - 1;
    events.push({ request: index, kind: 'received', at: Date.now() });
    const closed = new Promise<void>((resolve) =>
      res.once('close', () => {
        if (!res.writableFinished) events.push({ request: index, kind: 'abandoned', at: Date.now() });
        resolve();
      }),
    );
    const answer = await respond(body, index);
    if (answer.hang) return closed;
    if (answer.delayMs) {
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, answer.delayMs))]);
      if (res.destroyed || req.socket.destroyed) return;
    }
    if (answer.status) {
      events.push({
        request: index,
        kind: 'answered',
        status: answer.status,
        retryAfterMs: answer.retryAfterMs,
        at: Date.now(),
      });
      res.writeHead(answer.status, {
        'content-type': 'application/json',
        ...(answer.retryAfterMs !== undefined ? { 'retry-after-ms': String(answer.retryAfterMs) } : {}),
      });
      res.end(JSON.stringify({ error: { message: 'canned failure', type: 'server_error' } }));
      return;
    }
    const toolCalls = (answer.toolCalls ?? []).map((c) => ({
      id: c.id ?? `call_canned_${++callCounter}`,
      type: 'function',
      function: { name: c.name, arguments: c.arguments },
    }));
    const finish = toolCalls.length ? 'tool_calls' : 'stop';
    events.push({ request: index, kind: 'answered', status: 200, at: Date.now() });
    const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
    const base = {
      id: `chatcmpl-${requests.length}`,
      created: Math.floor(Date.now() / 1000),
      model: 'canned',
    };
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content: answer.content ?? null,
                ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
              },
              finish_reason: finish,
            },
          ],
          usage,
        }),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (delta: unknown, finishReason: string | null = null) =>
      res.write(
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finishReason }] })}\n\n`,
      );
    send({ role: 'assistant', content: answer.content ?? '' });
    if (toolCalls.length) send({ tool_calls: toolCalls.map((c, index) => ({ index, ...c })) });
    send({}, finish);
    res.write(
      `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [], usage })}\n\n`,
    );
    res.end('data: [DONE]\n\n');
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    events,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
