import type { DescService } from '@bufbuild/protobuf';
import { type Client, createClient, type Transport } from '@connectrpc/connect';
import type { Clock } from '@toolmesh/clock';
import { createDiscovery, type Discovery } from '@toolmesh/discovery';
import {
  type ClientTlsSettings,
  type ClosableTransport,
  conversationKey,
  createBalancedTransport,
  createEndpointBalancer,
  createGrpcChannel,
  createTlsFiles,
  type EndpointBalancer,
} from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import type { Config } from './config.ts';
import { createOrchestratorReplicaMetrics } from './orchestrator-replica-metrics.ts';

/** Options of {@link connectOrchestrators}. */
export interface ConnectOrchestratorsOptions {
  settings: Config['orchestrators'];
  /** Mutual TLS toward the orchestrators; absent: plaintext. */
  tls?: ClientTlsSettings | undefined;
  logger: Logger;
  /** The grpc_client_* series of every replica's calls. */
  metrics?: Registry;
  clock: Clock;
}

/** The orchestrator tier as the gateway sees it: one transport over every replica. */
export interface Orchestrators {
  /** Balances each call over the healthy replicas (turns of one conversation prefer one). */
  readonly transport: Transport;
  readonly balancer: EndpointBalancer<ClosableTransport>;
  readonly discovery: Discovery;
  /** A client of one orchestrator service over {@link transport}; calls without a deadline get `defaultTimeoutMs`. */
  client<S extends DescService>(service: S, defaultTimeoutMs: number): Client<S>;
  stop(): Promise<void>;
}

/**
 * Finds the orchestrator replicas as the orchestrator finds tool services (static list, DNS of
 * a headless Service, etcd) and balances per call over them: one HTTP/2 connection would pin
 * every chat to one replica however many run. Resolves once discovery knows its first set.
 */
export async function connectOrchestrators(options: ConnectOrchestratorsOptions): Promise<Orchestrators> {
  const { settings, logger } = options;
  const discovery = createDiscovery({
    settings: settings.discovery,
    addresses: settings.addresses,
    dnsRefreshMs: settings.dnsRefreshMs,
    clock: options.clock,
    onError: (error) => logger.warn({ err: error }, 'orchestrator discovery failed; keeping the last known'),
  });
  await discovery.start();
  // One set of TLS files for every replica's connection, read and checked once. DNS discovery
  // dials pod addresses: the certificate names the Service, as the configured name says.
  const serviceName =
    settings.discovery.kind === 'dns' ? settings.addresses[0]?.replace(/:\d+$/, '') : undefined;
  const tls = options.tls
    ? {
        tls: { serverName: serviceName, ...options.tls },
        tlsFiles: createTlsFiles(options.tls),
      }
    : {};
  // Replicas seen: the first "closed" of each is its arrival, not a recovery.
  const known = new Set<string>();
  const replicaMetrics = options.metrics ? createOrchestratorReplicaMetrics(options.metrics) : undefined;
  const balancer = createEndpointBalancer<ClosableTransport>({
    source: discovery,
    // The deadline comes from each forwarded call; this one only backs a call that set none.
    connect: (address) =>
      createGrpcChannel({ address, metrics: options.metrics, clock: options.clock, ...tls }),
    // A replica that left (scaled in, rescheduled) keeps no connection open from here.
    close: (connection) => connection.close(),
    ...settings.breaker,
    clock: options.clock,
    onBreakerChange: (address, state) => {
      replicaMetrics?.breakerChanged(address, state);
      if (known.has(address)) logger.warn({ address, state }, 'orchestrator replica breaker changed state');
      else logger.info({ address }, 'orchestrator replica joined');
      known.add(address);
    },
    onRemoved: (address) => {
      known.delete(address);
      replicaMetrics?.forget(address);
      logger.info({ address }, 'orchestrator replica left');
    },
  });
  const transport = createBalancedTransport({ balancer, keyOf: conversationKey, clock: options.clock });
  return {
    transport,
    balancer,
    discovery,
    client: (service, defaultTimeoutMs) =>
      createClient(service, {
        unary: (method, signal, timeoutMs, header, input, values) =>
          transport.unary(method, signal, timeoutMs ?? defaultTimeoutMs, header, input, values),
        stream: (method, signal, timeoutMs, header, input, values) =>
          transport.stream(method, signal, timeoutMs ?? defaultTimeoutMs, header, input, values),
      }),
    async stop() {
      await discovery.stop();
      for (const replica of balancer.endpoints()) replica.connection.close();
    },
  };
}
