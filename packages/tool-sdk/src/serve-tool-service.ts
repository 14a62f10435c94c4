import { type DiscoverySettings, registerIfConfigured } from '@toolmesh/discovery';
import { handleShutdown, type Server } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';

/** Options of {@link serveToolService}. */
export interface ServeToolServiceOptions {
  /** Service name, e.g. "order" (its registration key in etcd). */
  service: string;
  server: Server;
  host: string;
  port: number;
  /** DISCOVERY=etcd registers the replica; static and dns need nothing here. */
  discovery: DiscoverySettings;
  logger: Logger;
  /** Runs while the server drains, e.g. a task worker finishing its tasks. */
  drain?: () => Promise<void>;
  /** Closes what the service opened (database, telemetry) once everything drained. */
  close?: () => Promise<void>;
}

/**
 * Listens, reports SERVING, joins discovery, and on SIGTERM leaves in the order a
 * rolling restart needs: NOT_SERVING → deregister → drain in-flight calls → close.
 * Resolves with the bound port.
 */
export async function serveToolService(options: ServeToolServiceOptions): Promise<number> {
  const { server, logger } = options;
  const port = await server.listen(options.port, options.host);
  server.health.setAll(true);
  const registration = await registerIfConfigured(options.discovery, {
    service: options.service,
    host: options.host,
    port,
    onError: (error) => logger.warn({ err: error }, 'etcd registration failed; retrying'),
  });
  logger.info({ port, registration: registration.key || undefined }, `${options.service} service listening`);
  handleShutdown({
    logger,
    stop: async () => {
      server.health.setAll(false);
      // Out of discovery first, so callers stop picking this replica while it drains.
      await registration.deregister();
      await Promise.all([server.shutdown(), options.drain?.()]);
      await options.close?.();
    },
  });
  return port;
}
