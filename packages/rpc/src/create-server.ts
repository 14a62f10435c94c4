import type http from 'node:http';
import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { type Clock, systemClock } from '@toolmesh/clock';
import { Health } from '@toolmesh/proto';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createProtocolListener, type Http2Limits } from './create-protocol-listener.ts';
import { createErrorBoundary, type ErrorMapper } from './error-boundary.ts';
import { createGrpcJsServer, createGrpcStreamHandler } from './grpc-js-server/index.ts';
import { createServerMetricsInterceptor } from './grpc-metrics.ts';
import { createHealthRegistry } from './health-registry.ts';
import { reportUndecodableRequests } from './invalid-request-status.ts';
import { createReflectionRegistrations } from './reflection-service.ts';
import type { Server } from './server.ts';
import { createServerTracingInterceptor } from './server-tracing-interceptor.ts';
import { type ServiceRegistration, serviceRegistration } from './service-registration.ts';
import type { TlsSettings } from './tls/tls-settings.ts';
import { type CorsOptions, withCors } from './with-cors.ts';
import { type EarlyRefusal, withEarlyRefusal } from './with-early-refusal.ts';

export type { Server } from './server.ts';
export type { EarlyRefusal } from './with-early-refusal.ts';

/**
 * What a server's port speaks. `grpc`: gRPC only, on grpc-js, for the mesh's internal ports
 * (the callers are our own gRPC clients, grpcurl and health probes). `all`: gRPC (on grpc-js
 * too), gRPC-Web and Connect (JSON or binary, HTTP/1.1 or HTTP/2, on connect-node), for a port
 * browsers and curl reach (the gateway's), and the only one with `httpRoutes` and `cors`.
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
  /**
   * Run inside the error boundary, outermost first. On plain gRPC a unary method's chain is built
   * once (`interceptor(next)` runs once per method, not per call): keep per-call state inside
   * the function an interceptor returns.
   */
  interceptors?: Interceptor[];
  /** Largest request message accepted; default 4 MiB, like grpc-go. */
  readMaxBytes?: number;
  /** Browser origins allowed to call (gRPC-Web, Connect; needs `protocols: 'all'`); default none (no CORS headers). */
  cors?: CorsOptions;
  /** Records the grpc_server_* series of every call here (the process's registry); none without. */
  metrics?: Registry;
  /**
   * Times the shutdown grace period, the checks of the TLS files and the deadlines of plain gRPC
   * calls; default the system clock.
   */
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
   * Refuses some gRPC calls before any handler or interceptor (needs `protocols: 'all'`), for a
   * refusal that must stay cheap when it is most of the traffic (shedding load). Only plain gRPC
   * (HTTP/2, protobuf) calls of its methods ask it; every other call, and every call it does not
   * refuse, is served as usual, interceptors included.
   */
  earlyRefusal?: EarlyRefusal;
}

/** A plain HTTP endpoint of {@link ServerOptions.httpRoutes}. */
export interface HttpRoute {
  /** The exact request path, e.g. `/mcp`. */
  path: string;
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

// gRPC with protobuf (connect's content types less JSON): what grpc-js serves on a public port.
const grpcProto = /^application\/grpc(?:\+proto)?$/i;

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
  // Plain gRPC, what backends and grpcurl speak, is served by grpc-js as on an internal port,
  // with the same registrations and interceptors; connect-node keeps gRPC-Web, Connect and the
  // routes. The two answer a call alike (one test suite runs against both kinds of port).
  const serveGrpc = createGrpcStreamHandler({
    registrations,
    interceptors,
    readMaxBytes,
    shutdownSignal: shutdownController.signal,
    clock,
  });
  const serveGrpcCall = options.earlyRefusal
    ? withEarlyRefusal(options.earlyRefusal, options.metrics, serveGrpc)
    : serveGrpc;
  const listener = createProtocolListener({
    handler: (req, res) => {
      const route = routes.size ? routes.get(pathOf(req.url)) : undefined;
      // The routes take HTTP/1.1 (and HTTP/2 compatibility) requests as node:http's own.
      if (route) return route(req as http.IncomingMessage, res as http.ServerResponse);
      reportUndecodableRequests(res);
      serve(req, res);
    },
    takeStream: (stream, headers) => {
      if (headers[':method'] !== 'POST' || !grpcProto.test(String(headers['content-type'] ?? '')))
        return false;
      serveGrpcCall(stream, headers);
      return true;
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
        shutdownController.abort(new ConnectError('the server is shutting down', Code.Canceled));
        listener.destroyAll();
      }, graceMs);
      await closed;
      timer.cancel();
      logger.info('server stopped');
    },
  };
}
