import http2 from 'node:http2';
import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { experimental, Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';
import type { Clock } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import { type Http2Limits, type ListenerTlsOptions, meshHttp2Limits } from '../create-protocol-listener.ts';
import type { HealthRegistry } from '../health-registry.ts';
import type { Server } from '../server.ts';
import type { ServiceRegistration } from '../service-registration.ts';
import { addRegistrations } from './add-registrations.ts';
import {
  createTlsCertificateProvider,
  type TlsCertificateProvider,
} from './create-tls-certificate-provider.ts';
import { grpcJsInternals } from './grpc-js-internals.ts';

/** Options of {@link createGrpcJsServer}. */
export interface GrpcJsServerOptions {
  /** Every service served, health and reflection included. */
  registrations: ServiceRegistration[];
  /** The health registry those serve, set NOT_SERVING at shutdown. */
  health: HealthRegistry;
  /** Every call runs through these, outermost first (tracing, metrics, error boundary, the caller's). */
  interceptors: Interceptor[];
  logger: Logger;
  clock: Clock;
  /** Largest request message accepted (larger: RESOURCE_EXHAUSTED). */
  readMaxBytes: number;
  /** Unset fields take {@link meshHttp2Limits}. */
  limits?: Partial<Http2Limits>;
  /** Mutual TLS with reloaded files; absent: plaintext HTTP/2 (h2c). */
  tls?: ListenerTlsOptions;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A gRPC-only server on grpc-js for the mesh's internal ports: the same registrations,
 * interceptors, health and reflection as the connect-node server, without connect's
 * per-call protocol pipeline (async iterables for unary calls, Node⇄Fetch header copies).
 */
export function createGrpcJsServer(options: GrpcJsServerOptions): Server {
  const { logger, health } = options;
  const limits: Http2Limits = { ...meshHttp2Limits };
  for (const [key, value] of Object.entries(options.limits ?? {})) {
    if (value !== undefined) limits[key as keyof Http2Limits] = value;
  }
  const server = new GrpcServer({
    'grpc.max_receive_message_length': options.readMaxBytes,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc-node.max_session_memory': limits.maxSessionMemoryMb,
    // Per-call bookkeeping nobody reads: our own metrics and traces cover it.
    'grpc.enable_channelz': 0,
  });
  const internals = grpcJsInternals(server);
  internals.http2Options.settings = {
    ...internals.http2Options.settings,
    maxHeaderListSize: limits.maxHeaderListSize,
  };
  const shutdownController = new AbortController();
  addRegistrations(server, options.registrations, {
    interceptors: options.interceptors,
    shutdownSignal: shutdownController.signal,
    clock: options.clock,
  });

  // Read (and proved usable) now, so a misconfigured process fails at start, as with connect-node.
  let provider: TlsCertificateProvider | undefined;
  let credentials = ServerCredentials.createInsecure();
  if (options.tls) {
    provider = createTlsCertificateProvider(options.tls);
    // One provider for both roles; requestCert with rejectUnauthorized: a client without a
    // certificate the CA signed fails the handshake.
    credentials = experimental.createCertificateProviderServerCredentials(provider, provider, true);
  }

  return {
    health,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.bindAsync(hostPort(host, port), credentials, (error, bound) => {
          if (error) return reject(error);
          const onHandshakeError = options.tls?.onHandshakeError;
          if (onHandshakeError) {
            for (const http2Server of internals.http2Servers())
              http2Server.on('tlsClientError', (err: Error) => onHandshakeError(err));
          }
          resolve(bound);
        });
      });
    },
    async shutdown(graceMs = 10_000) {
      health.setAll(false);
      provider?.close();
      // GOAWAY lets clients finish in-flight calls and open new ones elsewhere.
      const closed = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      let forced!: () => void;
      const forcedDone = new Promise<void>((resolve) => {
        forced = resolve;
      });
      const timer = options.clock.setTimeout(() => {
        // Taken first: forceShutdown forgets the servers that know the sessions.
        const sessions = internals.sessions();
        shutdownController.abort(new ConnectError('the server is shutting down', Code.Canceled));
        server.forceShutdown();
        for (const session of sessions) session.destroy(undefined, http2.constants.NGHTTP2_CANCEL);
        forced();
      }, graceMs);
      await Promise.race([closed, forcedDone]);
      timer.cancel();
      logger.info('server stopped');
    },
  };
}
