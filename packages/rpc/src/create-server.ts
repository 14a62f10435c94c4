import type http from 'node:http';
import type http2 from 'node:http2';
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { ConnectError, type Interceptor } from '@connectrpc/connect';
import { setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { type Clock, systemClock } from '@toolmesh/clock';
import { Health } from '@toolmesh/proto';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createProtocolListener, type Http2Limits, type RequestHandler } from './create-protocol-listener.ts';
import { createErrorBoundary, type ErrorMapper } from './error-boundary.ts';
import { withErrorInfo } from './error-details.ts';
import { createGrpcJsServer } from './grpc-js-server/index.ts';
import { createServerMetricsInterceptor, recordServerCallAnsweredEarly } from './grpc-metrics.ts';
import { createHealthRegistry } from './health-registry.ts';
import { reportUndecodableRequests } from './invalid-request-status.ts';
import { createReflectionRegistrations } from './reflection-service.ts';
import { sanitizedErrorHeader } from './sanitized-error.ts';
import type { Server } from './server.ts';
import { createServerTracingInterceptor } from './server-tracing-interceptor.ts';
import { type ServiceRegistration, serviceRegistration } from './service-registration.ts';
import type { TlsSettings } from './tls/tls-settings.ts';
import { type CorsOptions, withCors } from './with-cors.ts';

export type { Server } from './server.ts';

/**
 * What a server's port speaks. `grpc`: gRPC only, on grpc-js, for the mesh's internal ports
 * (the callers are our own gRPC clients, grpcurl and health probes). `all`: gRPC, gRPC-Web and
 * Connect (JSON or binary, HTTP/1.1 or HTTP/2) on connect-node, for a port browsers and curl
 * reach (the gateway's), and the only one with `httpRoutes` and `cors`.
 */
export type ServerProtocols = 'grpc' | 'all';

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** Default `grpc`: an internal port. A public edge passes `all`. */
  protocols?: ServerProtocols;
  /**
   * Continue the caller's trace and keep its x-request-id as is; default true (inside the mesh).
   * A public edge passes false: a new trace linked to the caller's, and only well-formed ids.
   */
  trustCallerContext?: boolean;
  /** The application services; health and reflection are added for them. */
  services: ServiceRegistration[];
  logger: Logger;
  /** Maps the service's domain errors to gRPC statuses. */
  mapError?: ErrorMapper;
  /** Run inside the error boundary, outermost first. */
  interceptors?: Interceptor[];
  /** Largest request message accepted; default 4 MiB, like grpc-go. */
  readMaxBytes?: number;
  /** Browser origins allowed to call (gRPC-Web, Connect; needs `protocols: 'all'`); default none (no CORS headers). */
  cors?: CorsOptions;
  /** Records the grpc_server_* series of every call here (the process's registry); none without. */
  metrics?: Registry;
  /** Times the shutdown grace period and the checks of the TLS files; default the system clock. */
  clock?: Clock;
  /**
   * Serve over mutual TLS: HTTP/2 and HTTP/1.1 by ALPN, only to clients whose certificate the
   * CA signed; the files are checked for a change every `tlsCheckIntervalMs` (default 10 s)
   * and new connections get the new ones. Default plaintext (h2c and HTTP/1.1).
   */
  tls?: TlsSettings;
  tlsCheckIntervalMs?: number;
  /**
   * What one client connection may hold (streams, session memory, header size); unset fields
   * take {@link meshHttp2Limits}. A public port takes {@link publicHttp2Limits}.
   */
  limits?: Partial<Http2Limits>;
  /**
   * Plain HTTP endpoints served on the same port before gRPC/Connect, each by exact path
   * (query ignored), e.g. MCP's `/mcp`; needs `protocols: 'all'`. They run outside the RPC
   * interceptors: each does its own authentication and limits.
   */
  httpRoutes?: HttpRoute[];
  /**
   * Refuses some gRPC calls before connect-node's pipeline (needs `protocols: 'all'`), for a
   * refusal that must stay cheap when it is most of the traffic (shedding load). Only plain gRPC
   * (HTTP/2, protobuf) calls of its methods ask it; every other call, and every call it does not
   * refuse, is served as usual, interceptors included.
   */
  earlyRefusal?: EarlyRefusal;
}

/**
 * What {@link ServerOptions.earlyRefusal} refuses. The refusal skips the interceptors: it is
 * answered with the error boundary's marks (ErrorInfo, the sanitized trailer) and counted in the
 * grpc_server_* series as the interceptors would count it, but has no span and no request id.
 * Whatever the interceptors must check first (authentication) `refuse` checks itself.
 */
export interface EarlyRefusal {
  /** The methods it may refuse; calls of any other method never reach `refuse`. */
  methods: readonly DescMethod[];
  /**
   * An error meant for the caller (e.g. `errorFor`) to end the call with at once, or undefined
   * to serve it as usual; a rejected promise serves it as usual too. Answer undefined
   * synchronously in the common case: the call then goes on in the same tick, at no cost.
   */
  refuse(headers: http2.IncomingHttpHeaders): ConnectError | undefined | Promise<ConnectError | undefined>;
}

/** A plain HTTP endpoint of {@link ServerOptions.httpRoutes}. */
export interface HttpRoute {
  /** The exact request path, e.g. `/mcp`. */
  path: string;
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

// gRPC with protobuf (connect's content types less JSON): the protocol whose refusal is one
// HEADERS frame (trailers-only), and the one a heavy caller speaks. gRPC-Web and Connect have
// their own error encodings: they take the normal path.
const grpcProto = /^application\/grpc(?:\+proto)?$/i;

type ServeRequest = (...args: Parameters<RequestHandler>) => void;

/**
 * Wraps `serve` so that a gRPC call of one of the refusal's methods is first offered to it. A
 * refused call is answered trailers-only (HEADERS with END_STREAM), with the status headers
 * connect-node writes for the same error, and its request body is discarded unread: no
 * parsing, no context, no interceptor, no promise chain per message.
 */
function withEarlyRefusal(
  refusal: EarlyRefusal,
  metrics: Registry | undefined,
  serve: ServeRequest,
): ServeRequest {
  const methods = new Map(refusal.methods.map((m) => [`/${m.parent.typeName}/${m.name}`, m]));
  // The status headers of each error answered: a refusal that answers the same error again
  // (the same retry hint) is encoded once.
  const encoded = new WeakMap<ConnectError, http2.OutgoingHttpHeaders>();
  const headersOf = (error: ConnectError) => {
    let headers = encoded.get(error);
    if (!headers) {
      // What the error boundary adds to every status it lets out.
      const status = withErrorInfo(error);
      status.metadata.set(sanitizedErrorHeader, '1');
      headers = { ':status': 200, 'content-type': 'application/grpc+proto' };
      for (const [name, value] of setTrailerStatus(new Headers(), status)) headers[name] = value;
      encoded.set(error, headers);
    }
    return headers;
  };
  return (req, res) => {
    const method =
      req.httpVersionMajor === 2 && req.method === 'POST' ? methods.get(req.url ?? '') : undefined;
    if (!method || !grpcProto.test(req.headers['content-type'] ?? '')) return serve(req, res);
    const startedAt = performance.now();
    const answer = (error: ConnectError) => {
      const stream = (req as http2.Http2ServerRequest).stream;
      // The caller went away while `refuse` was deciding: nothing to answer, nothing handled.
      if (stream.destroyed || stream.headersSent) return;
      stream.respond({ ...headersOf(error) }, { endStream: true });
      req.resume();
      if (metrics)
        recordServerCallAnsweredEarly(metrics, method, error, (performance.now() - startedAt) / 1000);
    };
    let decided: ReturnType<EarlyRefusal['refuse']>;
    try {
      decided = refusal.refuse(req.headers);
    } catch {
      return serve(req, res);
    }
    if (decided === undefined) return serve(req, res);
    if (decided instanceof ConnectError) return answer(decided);
    decided.then(
      (error) => (error ? answer(error) : serve(req, res)),
      () => serve(req, res),
    );
  };
}

function pathOf(url: string | undefined): string {
  const end = url?.search(/[?#]/) ?? -1;
  return end === -1 ? (url ?? '') : (url ?? '').slice(0, end);
}

/**
 * Builds a server with health and reflection for the given services; nothing listens until
 * {@link Server.listen}. By default gRPC only on grpc-js (see {@link ServerProtocols}).
 */
export function createServer(options: ServerOptions): Server {
  const { logger } = options;
  const protocols = options.protocols ?? 'grpc';
  if (protocols === 'grpc' && (options.httpRoutes?.length || options.cors || options.earlyRefusal)) {
    throw new Error(
      "createServer: httpRoutes, cors and earlyRefusal need protocols: 'all' (connect-node); a gRPC-only server (grpc-js) cannot serve them",
    );
  }
  const clock = options.clock ?? systemClock;
  const appServices: DescService[] = options.services.map((s) => s.service);
  const health = createHealthRegistry(appServices.map((s) => s.typeName));
  const registrations = [
    ...options.services,
    serviceRegistration(Health, health.implementation),
    ...createReflectionRegistrations([...appServices, Health]),
  ];
  // Tracing outermost, so the request id and span cover everything (the boundary's logs
  // too); metrics outside the boundary, so they count the codes callers see.
  const interceptors = [
    createServerTracingInterceptor({ trustCallerContext: options.trustCallerContext }),
    ...(options.metrics ? [createServerMetricsInterceptor(options.metrics)] : []),
    createErrorBoundary({ logger, mapError: options.mapError }),
    ...(options.interceptors ?? []),
  ];
  const readMaxBytes = options.readMaxBytes ?? 4 * 1024 * 1024;
  const tls = options.tls && {
    ...options.tls,
    clock,
    checkIntervalMs: options.tlsCheckIntervalMs,
    onReload: () => logger.info('TLS certificate, key and CA files changed: new connections use them'),
    onReloadError: (err: Error) =>
      logger.warn({ err }, 'changed TLS files not taken; the previous ones stay in use'),
    // Debug: anyone who reaches the port can cause one, and a scanner must not flood the log.
    onHandshakeError: (err: Error) => logger.debug({ err }, 'TLS handshake refused'),
  };
  if (protocols === 'grpc') {
    return createGrpcJsServer({
      registrations,
      health,
      interceptors,
      logger,
      clock,
      readMaxBytes,
      limits: options.limits,
      tls,
    });
  }

  const shutdownController = new AbortController();
  const handler = connectNodeAdapter({
    routes: (router) => {
      for (const r of registrations) r.register(router);
    },
    interceptors,
    readMaxBytes,
    shutdownSignal: shutdownController.signal,
  });
  const serve = options.cors ? withCors(handler, options.cors) : handler;
  const routes = new Map((options.httpRoutes ?? []).map((r) => [r.path, r.handler]));
  const serveRpc: ServeRequest = (req, res) => {
    reportUndecodableRequests(res);
    serve(req, res);
  };
  const serveCall = options.earlyRefusal
    ? withEarlyRefusal(options.earlyRefusal, options.metrics, serveRpc)
    : serveRpc;
  const listener = createProtocolListener({
    handler: (req, res) => {
      const route = routes.size ? routes.get(pathOf(req.url)) : undefined;
      // The routes take HTTP/1.1 (and HTTP/2 compatibility) requests as node:http's own.
      if (route) return route(req as http.IncomingMessage, res as http.ServerResponse);
      serveCall(req, res);
    },
    limits: options.limits,
    tls,
  });

  return {
    health,
    listen(port, host = '127.0.0.1') {
      return listener.listen(port, host);
    },
    async shutdown(graceMs = 10_000) {
      health.setAll(false);
      // GOAWAY (HTTP/1.1: close when idle) lets clients finish in-flight calls and reconnect elsewhere.
      const closed = listener.close();
      const timer = clock.setTimeout(() => {
        shutdownController.abort();
        listener.destroyAll();
      }, graceMs);
      await closed;
      timer.cancel();
      logger.info('server stopped');
    },
  };
}
