// The model client's lean fetch (undici's dispatcher API under the openai SDK): a correct
// fetch where the SDK looks (status, headers, a JSON body, an event stream as it arrives),
// and the client on it keeps what it had on Node's fetch: the turn's abort and the request
// timeout reach the model request, retries and error mapping, kept-alive connections, TLS.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { createTestPki, freePort, startCannedModel, waitFor } from '@toolmesh/testkit';
import { APIConnectionError, APIUserAbortError } from 'openai';
import {
  createModelClient,
  createModelFetch,
  type ModelFetch,
  ModelUnavailableError,
} from '../src/model/index.ts';

const ask = { messages: [{ role: 'user' as const, content: 'hi' }], tools: [] };

let lean: ModelFetch;
beforeEach(() => {
  lean = createModelFetch();
});
afterEach(async () => {
  await lean.close();
});

const clientOf = (
  baseURL: string,
  more: { timeoutMs?: number; maxRetries?: number; fetch?: typeof globalThis.fetch } = {},
) => createModelClient({ baseURL, apiKey: 'k', model: 'm', timeoutMs: 10_000, fetch: lean.fetch, ...more });

// A model server written in the test, for answers the canned model does not give (a body
// that stalls, a stream paused mid-way); the handler sees each request.
async function startServer(
  handler: http.RequestListener,
  tls?: { key: Buffer; cert: Buffer },
): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/v1`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error,
  );
}

test('answers status, headers and body as fetch does, with no body where a status has none', async () => {
  const server = await startServer((req, res) => {
    if (req.url === '/v1/empty') {
      res.writeHead(204).end();
      return;
    }
    let sent = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      sent += chunk;
    });
    req.on('end', () => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(201, 'Made', { 'content-type': 'application/json', 'x-request-id': 'req_1' });
      res.end(JSON.stringify({ method: req.method, sent, auth: req.headers.authorization }));
    });
  });
  try {
    const response = await lean.fetch(`${server.baseUrl}/things?x=1`, {
      method: 'post',
      headers: new Headers({ authorization: 'Bearer k' }),
      body: '{"q":1}',
    });
    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    expect(response.statusText).toBe('Made');
    expect(response.url).toBe(`${server.baseUrl}/things?x=1`);
    expect(response.headers.get('x-request-id')).toBe('req_1');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({ method: 'POST', sent: '{"q":1}', auth: 'Bearer k' });

    const empty = await lean.fetch(`${server.baseUrl}/empty`);
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  } finally {
    await server.close();
  }
});

test('an event stream is handed over as it arrives, not once it ended', async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server = await startServer(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: first\n\n');
    // The second event waits until the client has read the first one.
    await released;
    res.end('data: second\n\n');
  });
  try {
    const response = await lean.fetch(`${server.baseUrl}/chat/completions`, { method: 'POST', body: '{}' });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe('data: first\n\n');
    release();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += decoder.decode(chunk.value);
    expect(rest).toBe('data: second\n\n');
  } finally {
    await server.close();
  }
});

test('a streamed completion passes its text on piece by piece and assembles its tool calls', async () => {
  const model = await startCannedModel(() => ({
    content: 'Looking it up.',
    toolCalls: [{ id: 'call_1', name: 'get_order_detail', arguments: '{"order_id":"1"}' }],
  }));
  try {
    const pieces: string[] = [];
    const answer = await clientOf(model.baseUrl).complete({
      ...ask,
      onTextDelta: (text) => pieces.push(text),
    });
    expect(pieces).toEqual(['Looking it up.']);
    expect(answer).toEqual({
      content: 'Looking it up.',
      toolCalls: [{ id: 'call_1', name: 'get_order_detail', arguments: '{"order_id":"1"}' }],
      usage: { promptTokens: 10, completionTokens: 5 },
    });
    expect(model.requests[0]).toMatchObject({ stream: true });
  } finally {
    await model.close();
  }
});

test("the turn's cancellation ends the model request while it waits for the answer", async () => {
  let arrived!: () => void;
  const received = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  const model = await startCannedModel(() => {
    arrived();
    return { hang: true };
  });
  try {
    const turn = new AbortController();
    const call = failureOf(clientOf(model.baseUrl).complete({ ...ask, signal: turn.signal }));
    await received;
    turn.abort(new Error('turn cancelled'));
    // A cancelled call is not the model's failure: it is not turned into ModelUnavailableError.
    expect(await call).toBeInstanceOf(APIUserAbortError);
    await waitFor(() => model.events.some((e) => e.kind === 'abandoned'), {
      what: 'the model to see the call end',
    });
  } finally {
    await model.close();
  }
});

test("the turn's cancellation ends a streamed answer mid-way and closes its connection", async () => {
  let closed!: () => void;
  const connectionClosed = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const chunk = (content: string) =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
  const server = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(chunk('Hel'));
    // …and never more: only the client can end this answer.
    res.on('close', closed);
  });
  try {
    const turn = new AbortController();
    const cancelled = new Error('turn cancelled');
    const pieces: string[] = [];
    const error = await failureOf(
      clientOf(server.baseUrl).complete({
        ...ask,
        signal: turn.signal,
        onTextDelta: (text) => {
          pieces.push(text);
          turn.abort(cancelled);
        },
      }),
    );
    expect(pieces).toEqual(['Hel']);
    // The SDK ends an aborted stream quietly; the client does not pass the pieces off as an answer.
    expect(error).toBe(cancelled);
    await connectionClosed;
  } finally {
    await server.close();
  }
});

test('the request timeout ends a model that never answers, and one whose body stalls after its headers', async () => {
  const model = await startCannedModel(() => ({ hang: true }));
  const stalling = await startServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":"chatcmpl-1","choices":[');
  });
  try {
    // (The SDK calls it an APIConnectionTimeoutError; under Jest's module realm the abort it
    // sees is not an Error of that realm, so it reports a connection error, as with Node's fetch.)
    for (const baseUrl of [model.baseUrl, stalling.baseUrl]) {
      const error = await failureOf(clientOf(baseUrl, { timeoutMs: 100, maxRetries: 0 }).complete(ask));
      expect(error).toBeInstanceOf(ModelUnavailableError);
      expect((error as ModelUnavailableError).refused).toBe(false);
    }
    await waitFor(() => model.events.some((e) => e.kind === 'abandoned'), {
      what: 'the model to see the call end',
    });
  } finally {
    await model.close();
    await stalling.close();
  }
});

test("a 429 is retried after the server's Retry-After; a 4xx is a refusal, a 5xx and a closed port are unavailability", async () => {
  const answers = [{ status: 429, retryAfterMs: 1 }, { content: 'ok' }, { status: 400 }, { status: 503 }];
  const model = await startCannedModel((_request, index) => answers[index] ?? { status: 500 });
  try {
    const retrying = clientOf(model.baseUrl, { maxRetries: 1 });
    expect((await retrying.complete(ask)).content).toBe('ok');
    expect(model.events.filter((e) => e.kind === 'answered').map((e) => e.status)).toEqual([429, 200]);

    const once = clientOf(model.baseUrl, { maxRetries: 0 });
    const refused = await failureOf(once.complete(ask));
    expect(refused).toBeInstanceOf(ModelUnavailableError);
    expect((refused as ModelUnavailableError).refused).toBe(true);
    const down = await failureOf(once.complete(ask));
    expect(down).toBeInstanceOf(ModelUnavailableError);
    expect((down as ModelUnavailableError).refused).toBe(false);

    const closed = await failureOf(
      clientOf(`http://127.0.0.1:${await freePort()}/v1`, { maxRetries: 0 }).complete(ask),
    );
    expect(closed).toBeInstanceOf(ModelUnavailableError);
    expect((closed as ModelUnavailableError).refused).toBe(false);
    expect((closed as Error).cause).toBeInstanceOf(APIConnectionError);
  } finally {
    await model.close();
  }
});

test('completions one after another reuse their kept-alive connections; parallel ones keep theirs', async () => {
  const model = await startCannedModel(() => ({ content: 'ok' }));
  try {
    const client = clientOf(model.baseUrl);
    for (let i = 0; i < 10; i++) {
      await client.complete(ask);
      await client.complete({ ...ask, onTextDelta: () => {} });
    }
    // undici puts a connection back in its pool a tick after the answer's end reached the SDK,
    // so a call sent at once may open a second one; both are kept alive and reused from then on.
    expect(model.connections()).toBeLessThanOrEqual(2);
    const before = model.connections();
    for (let round = 0; round < 5; round++) await Promise.all([1, 2, 3, 4].map(() => client.complete(ask)));
    expect(model.requests).toHaveLength(40);
    // 20 calls, 4 at a time: by the same tick a few more than 4 connections, not one a call.
    expect(model.connections() - before).toBeLessThanOrEqual(10);
  } finally {
    await model.close();
  }
});

test('an https model URL is reached over TLS, verified against the CA it is given', async () => {
  const pki = createTestPki('toolmesh-model-fetch-');
  try {
    pki.ca('ca');
    pki.issue('ca', 'model', 'model', 'IP:127.0.0.1');
    const files = pki.files('model');
    const model = await startServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'c',
            object: 'chat.completion',
            created: 0,
            model: 'm',
            choices: [
              { index: 0, message: { role: 'assistant', content: 'over tls' }, finish_reason: 'stop' },
            ],
          }),
        );
      },
      { key: fs.readFileSync(files.keyFile), cert: fs.readFileSync(files.certFile) },
    );
    const trusting = createModelFetch({ ca: fs.readFileSync(files.caFile) });
    try {
      const client = clientOf(model.baseUrl, { maxRetries: 0, fetch: trusting.fetch });
      expect((await client.complete(ask)).content).toBe('over tls');
      // Without the CA the certificate is not trusted: the model is unreachable, not refused.
      const untrusted = await failureOf(clientOf(model.baseUrl, { maxRetries: 0 }).complete(ask));
      expect(untrusted).toBeInstanceOf(ModelUnavailableError);
      expect((untrusted as ModelUnavailableError).refused).toBe(false);
    } finally {
      await trusting.close();
      await model.close();
    }
  } finally {
    pki.remove();
  }
});

// An egress proxy as clusters have them: an http URL's request forwarded as it came (absolute
// URI), anything else tunnelled (HTTP CONNECT, then bytes both ways). It notes each host it reached.
async function startConnectProxy(): Promise<{ url: string; tunnels: string[]; close(): Promise<void> }> {
  const tunnels: string[] = [];
  const sockets = new Set<net.Socket>();
  const proxy = http.createServer((req, res) => {
    const target = new URL(req.url ?? '');
    tunnels.push(target.host);
    const upstream = http.request(target, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}

test('with an egress proxy the model is reached through it, except hosts it is told to reach directly', async () => {
  const model = await startCannedModel(() => ({ content: 'through the proxy' }));
  const proxy = await startConnectProxy();
  const proxied = createModelFetch({ proxy: { httpProxy: proxy.url } });
  const bypassing = createModelFetch({ proxy: { httpProxy: proxy.url, noProxy: '127.0.0.1' } });
  try {
    const through = clientOf(model.baseUrl, { fetch: proxied.fetch });
    expect((await through.complete(ask)).content).toBe('through the proxy');
    expect(proxy.tunnels).toEqual([new URL(model.baseUrl).host]);

    const direct = clientOf(model.baseUrl, { fetch: bypassing.fetch });
    expect((await direct.complete(ask)).content).toBe('through the proxy');
    expect(proxy.tunnels).toHaveLength(1);
  } finally {
    await proxied.close();
    await bypassing.close();
    await proxy.close();
    await model.close();
  }
});
