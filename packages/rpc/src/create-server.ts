import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { DescService } from '@bufbuild/protobuf';
import type { Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { Health } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import { createErrorBoundary, type ErrorMapper } from './error-boundary.ts';
import { createHealthRegistry, type HealthRegistry } from './health-registry.ts';
import { reportUndecodableRequests } from './invalid-request-status.ts';
import { createReflectionRegistrations } from './reflection-service.ts';
import { type ServiceRegistration, serviceRegistration } from './service-registration.ts';

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The application services; health and reflection are added for them. */
  services: ServiceRegistration[];
  logger: Logger;
  /** Maps the service's domain errors to gRPC statuses. */
  mapError?: ErrorMapper;
  /** Run inside the error boundary, outermost first. */
  interceptors?: Interceptor[];
  /** Largest request message accepted; default 4 MiB, like grpc-go. */
  readMaxBytes?: number;
}

/** A gRPC server (HTTP/2 without TLS) with health and reflection. */
export interface Server {
  readonly health: HealthRegistry;
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful shutdown: NOT_SERVING, stop accepting, let in-flight calls finish
   * within graceMs, then cancel what is left.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/** Builds a server; nothing listens until {@link Server.listen}. */
export function createServer(options: ServerOptions): Server {
  const { logger } = options;
  const appServices: DescService[] = options.services.map((s) => s.service);
  const health = createHealthRegistry(appServices.map((s) => s.typeName));
  const registrations = [
    ...options.services,
    serviceRegistration(Health, health.implementation),
    ...createReflectionRegistrations([...appServices, Health]),
  ];
  const shutdownController = new AbortController();
  const handler = connectNodeAdapter({
    routes: (router) => {
      for (const r of registrations) r.register(router);
    },
    interceptors: [
      createErrorBoundary({ logger, mapError: options.mapError }),
      ...(options.interceptors ?? []),
    ],
    readMaxBytes: options.readMaxBytes ?? 4 * 1024 * 1024,
    shutdownSignal: shutdownController.signal,
  });
  const server = http2.createServer({}, (req, res) => {
    reportUndecodableRequests(res);
    handler(req, res);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });

  return {
    health,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    async shutdown(graceMs = 10_000) {
      health.setAll(false);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // GOAWAY lets clients finish in-flight streams and reconnect elsewhere.
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        shutdownController.abort();
        for (const session of sessions) session.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
      logger.info('server stopped');
    },
  };
}
