import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { Agent, type Dispatcher, EnvHttpProxyAgent, interceptors } from 'undici';

/** Options of {@link createModelFetch}. */
export interface ModelFetchOptions {
  /**
   * Idle kept-alive connections close after this long; default undici's 4 s, as Node's
   * fetch (a server's `Keep-Alive: timeout` hint shortens it).
   */
  keepAliveTimeoutMs?: number;
  /** Connections per origin at most; default unlimited, as Node's fetch. */
  connections?: number;
  /** CA certificates (PEM) trusted for https model URLs instead of Node's; default Node's. */
  ca?: string | Buffer;
  /**
   * An HTTP(S) proxy in front of the model (an egress proxy of the cluster): the URLs of the
   * proxies for http and https model URLs, and the hosts reached directly (NO_PROXY syntax).
   * Unset: every model URL is reached directly.
   */
  proxy?: { httpProxy?: string; httpsProxy?: string; noProxy?: string };
}

/** A `fetch` for the model client, and the connection pool it holds. */
export interface ModelFetch {
  fetch: typeof globalThis.fetch;
  /** Closes the pool's connections once their requests ended. */
  close(): Promise<void>;
}

// The Fetch standard's null body statuses: their Response must not have a body.
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

/**
 * Creates a `fetch` for the openai SDK on undici's dispatcher API (`Agent.request`),
 * the HTTP/1.1 client Node's own fetch is built on: the same keep-alive pool, TLS for
 * https URLs, and undici's 300 s header and body timeouts, without the fetch
 * algorithm's WHATWG machinery per call (Request objects, header guards, the request
 * body extracted through a web stream, the response body read through another), which
 * made Node's fetch a fifth of the orchestrator's CPU under load.
 *
 * It behaves as fetch where the SDK looks: a real `Response` with the status and
 * headers received; an aborted signal rejects with the signal's reason, before or
 * during the answer; a failed connection rejects with `TypeError('fetch failed')` and
 * undici's error as its cause, as Node's fetch does, so the SDK's retries and error
 * mapping see what they saw before. A `text/event-stream` body streams as it arrives;
 * any other body is read in full before the Response is handed over (the SDK reads a
 * JSON answer whole anyway), so the SDK's request timeout covers it. Compressed answers
 * are inflated. Unlike fetch it does not follow redirects (no model API redirects a
 * completion); a `Request` input or a body other than text, bytes or a stream (forms,
 * blobs) goes to Node's fetch, as nothing on the completion path sends one.
 */
export function createModelFetch(options: ModelFetchOptions = {}): ModelFetch {
  const pool = {
    ...(options.keepAliveTimeoutMs === undefined ? {} : { keepAliveTimeout: options.keepAliveTimeoutMs }),
    ...(options.connections === undefined ? {} : { connections: options.connections }),
    ...(options.ca === undefined ? {} : { connect: { ca: options.ca } }),
  };
  const { proxy } = options;
  // Every value is passed (empty for none): undici would otherwise read the proxy variables
  // from the environment itself, and what reaches the model is the configuration's to say.
  const agent =
    proxy?.httpProxy || proxy?.httpsProxy
      ? new EnvHttpProxyAgent({
          ...pool,
          httpProxy: proxy.httpProxy ?? '',
          httpsProxy: proxy.httpsProxy ?? proxy.httpProxy ?? '',
          noProxy: proxy.noProxy ?? '',
        })
      : new Agent(pool);
  const dispatcher = agent.compose(interceptors.decompress());

  // The SDK asks the same URL or two again and again: parse each once.
  const targets = new Map<string, { origin: string; path: string }>();
  function target(href: string): { origin: string; path: string } {
    let found = targets.get(href);
    if (!found) {
      const url = new URL(href);
      found = { origin: url.origin, path: url.pathname + url.search };
      if (targets.size >= 64) targets.clear();
      targets.set(href, found);
    }
    return found;
  }

  async function modelFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
    if (typeof input !== 'string' && !(input instanceof URL)) return globalThis.fetch(input, init);
    const body = requestBody(init.body);
    if (body === unsupported) return globalThis.fetch(input, init);
    const href = typeof input === 'string' ? input : input.href;
    const { origin, path } = target(href);
    const signal = init.signal ?? undefined;
    try {
      const answer = await dispatcher.request({
        origin,
        path,
        method: (init.method ?? 'GET').toUpperCase() as Dispatcher.HttpMethod,
        headers: requestHeaders(init.headers),
        body,
        signal: signal ?? null,
      });
      return await toResponse(answer, href);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw new TypeError('fetch failed', { cause: error });
    }
  }

  return {
    fetch: modelFetch as typeof globalThis.fetch,
    close: () => agent.close(),
  };
}

const unsupported = Symbol('unsupported body');

function requestBody(body: RequestInit['body']): string | Uint8Array | Readable | null | typeof unsupported {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string' || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ReadableStream) return Readable.fromWeb(body as NodeReadableStream);
  return unsupported;
}

// undici takes headers as a flat [name, value, …] list, the form it checks fastest.
function requestHeaders(headers: RequestInit['headers']): string[] {
  const flat: string[] = [];
  if (!headers) return flat;
  if (Symbol.iterator in headers) {
    for (const [name, value] of headers as Iterable<[string, string]>) flat.push(name, value);
  } else {
    for (const [name, value] of Object.entries(headers)) if (value !== undefined) flat.push(name, value);
  }
  return flat;
}

async function toResponse(answer: Dispatcher.ResponseData, href: string): Promise<Response> {
  const headers = new Headers();
  for (const name in answer.headers) {
    const value = answer.headers[name];
    if (Array.isArray(value)) for (const one of value) headers.append(name, one);
    else if (value !== undefined) headers.append(name, value);
  }
  const init = { status: answer.statusCode, statusText: answer.statusText, headers };
  let response: Response;
  if (nullBodyStatuses.has(answer.statusCode)) {
    await answer.body.dump();
    response = new Response(null, init);
  } else if (isEventStream(headers.get('content-type'))) {
    // An abort destroys undici's body, which errors this stream: the turn's cancellation
    // and deadline stop a streamed answer mid-way, as with fetch.
    response = new Response(Readable.toWeb(answer.body) as ReadableStream<Uint8Array>, init);
  } else {
    response = new Response(await answer.body.text(), init);
  }
  // fetch's Response tells where it came from; the SDK logs it.
  Object.defineProperty(response, 'url', { value: href });
  return response;
}

function isEventStream(contentType: string | null): boolean {
  return contentType?.trimStart().toLowerCase().startsWith('text/event-stream') ?? false;
}
