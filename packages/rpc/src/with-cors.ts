import { cors } from '@connectrpc/connect';
import type { RequestHandler } from './create-protocol-listener.ts';

/** Which browser origins may call a server (gRPC-Web and Connect from a web page). */
export interface CorsOptions {
  /** Exact origins such as "https://app.example.com", or "*" for any origin. */
  allowedOrigins: readonly string[] | '*';
  /** Request headers beyond the protocols' own; default authorization and x-request-id. */
  allowedHeaders?: readonly string[];
  /** Response headers a script may read beyond the protocols' own; default x-request-id. */
  exposedHeaders?: readonly string[];
  /** How long a browser may cache a preflight answer; default 7200 s. */
  maxAgeSeconds?: number;
}

/**
 * Answers CORS preflights and marks responses to allowed origins, using connect's
 * list of the headers its three protocols need. Requests from other origins are
 * served unmarked, so the browser withholds the answer from the page; non-browser
 * callers send no Origin and are not affected.
 */
export function withCors(handler: RequestHandler, options: CorsOptions): RequestHandler {
  const allowHeaders = [
    ...cors.allowedHeaders,
    ...(options.allowedHeaders ?? ['authorization', 'x-request-id']),
  ];
  const exposeHeaders = [...cors.exposedHeaders, ...(options.exposedHeaders ?? ['x-request-id'])];
  const allowed = (origin: string) =>
    options.allowedOrigins === '*' || options.allowedOrigins.includes(origin);
  return (req, res) => {
    const origin = req.headers.origin;
    if (typeof origin !== 'string' || !allowed(origin)) {
      handler(req, res);
      return;
    }
    res.setHeader('access-control-allow-origin', options.allowedOrigins === '*' ? '*' : origin);
    // The answer depends on the Origin, so caches must not share it across origins.
    res.setHeader('vary', 'Origin');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('access-control-allow-methods', cors.allowedMethods.join(', '));
      res.setHeader('access-control-allow-headers', allowHeaders.join(', '));
      res.setHeader('access-control-max-age', String(options.maxAgeSeconds ?? 7200));
      res.writeHead(204);
      res.end();
      return;
    }
    res.setHeader('access-control-expose-headers', exposeHeaders.join(', '));
    handler(req, res);
  };
}
