import type { DescMethod, DescService } from '@bufbuild/protobuf';
import {
  type CallOptions,
  type Client,
  createClient,
  type StreamResponse,
  type Transport,
} from '@connectrpc/connect';
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
      createLeanClient(service, {
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

/**
 * connect's `createClient`, with its server-streaming methods made here: connect's wrap each
 * response stream in a down-levelled async generator (a dozen closures, a queue and a
 * suspended frame), and every ChatStream open at the gateway holds one for its whole life.
 * Same contract: the request goes as the one message of the call, `onHeader` and `onTrailer`
 * hear the response's, and the messages come as the transport reads them.
 */
function createLeanClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  const client = createClient(service, transport) as Record<string, unknown>;
  for (const method of service.methods) {
    if (method.methodKind !== 'server_streaming') continue;
    client[method.localName] = (request: unknown, options?: CallOptions) =>
      new ServerStream(transport, method, request, options);
  }
  return client as Client<S>;
}

/** One request message, as the request stream of a server-streaming call. */
class SingleMessage implements AsyncIterable<unknown>, AsyncIterator<unknown> {
  private message: unknown;
  private sent = false;
  constructor(message: unknown) {
    this.message = message;
  }
  [Symbol.asyncIterator]() {
    return this;
  }
  async next(): Promise<IteratorResult<unknown>> {
    if (this.sent) return { done: true, value: undefined };
    this.sent = true;
    const value = this.message;
    this.message = undefined;
    return { done: false, value };
  }
}

/** The response messages of one server-streaming call, started when first read. */
class ServerStream implements AsyncIterable<unknown>, AsyncIterator<unknown> {
  private readonly transport: Transport;
  private readonly method: DescMethod;
  private request: unknown;
  private readonly options: CallOptions | undefined;
  private response: StreamResponse | undefined;
  private it: AsyncIterator<unknown> | undefined;
  private returned = false;

  constructor(transport: Transport, method: DescMethod, request: unknown, options: CallOptions | undefined) {
    this.transport = transport;
    this.method = method;
    this.request = request;
    this.options = options;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  async next(): Promise<IteratorResult<unknown>> {
    if (this.returned) return { done: true, value: undefined };
    if (!this.it) {
      const { options } = this;
      const response = (await this.transport.stream(
        this.method as never,
        options?.signal,
        options?.timeoutMs,
        options?.headers,
        new SingleMessage(this.request) as never,
        options?.contextValues,
      )) as StreamResponse;
      this.request = undefined;
      this.response = response;
      options?.onHeader?.(response.header);
      this.it = response.message[Symbol.asyncIterator]();
    }
    const result = await this.it.next();
    if (result.done && this.response) {
      this.options?.onTrailer?.(this.response.trailer);
      this.response = undefined;
    }
    return result;
  }

  // A reader that stops early ends the call now, not only when its signal aborts.
  async return(value?: unknown): Promise<IteratorResult<unknown>> {
    this.returned = true;
    this.request = undefined;
    this.response = undefined;
    return (await this.it?.return?.(value)) ?? { done: true, value: undefined };
  }
}
