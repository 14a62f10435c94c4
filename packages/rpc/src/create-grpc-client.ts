import type { DescService } from '@bufbuild/protobuf';
import { type Client, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { type ChannelCredentials, credentials } from '@grpc/grpc-js';
import { type Clock, systemClock } from '@toolmesh/clock';
import type { Registry } from '@toolmesh/telemetry';
import { createClientTracingInterceptor } from './client-tracing-interceptor.ts';
import { createGrpcJsTransport } from './grpc-js/create-grpc-js-transport.ts';
import { grpcJsChannelOptions } from './grpc-js/grpc-js-channel-options.ts';
import { createClientMetricsInterceptor } from './grpc-metrics.ts';
import { createReloadingTransport } from './tls/create-reloading-transport.ts';
import { createTlsFiles, type TlsFiles } from './tls/create-tls-files.ts';
import type { ClientTlsSettings } from './tls/tls-settings.ts';

/** Options of {@link createGrpcClient}. */
export interface GrpcClientOptions {
  /** host:port of the server. */
  address: string;
  /** Deadline of calls that set none; default 30 s. A call's own timeoutMs wins. */
  defaultTimeoutMs?: number;
  interceptors?: Interceptor[];
  /** Records the grpc_client_* series of every call (the process's registry); none without. */
  metrics?: Registry;
  /**
   * Dial over mutual TLS: present the certificate, and accept only a server whose certificate
   * the CA signed for the address's host (or `serverName`). Default plaintext (h2c).
   */
  tls?: ClientTlsSettings;
  /** How long a look at the TLS files stays good before a call checks them again; default 10 s. */
  tlsCheckIntervalMs?: number;
  /** Measures the TLS check interval; default the system clock. */
  clock?: Clock;
  /**
   * Already opened TLS files to share (a client pool opens them once for all its clients);
   * default opened from `tls`.
   */
  tlsFiles?: TlsFiles;
}

/**
 * A gRPC client over HTTP/2 (plaintext, or mutual TLS with `tls`), with a default deadline on
 * every call. Every call carries the active trace context and request id on; with `metrics` it
 * is counted too. With TLS, rotated files are taken by the connections dialled after the change.
 */
export function createGrpcClient<T extends DescService>(service: T, options: GrpcClientOptions): Client<T> {
  return createClient(service, createGrpcChannel(options));
}

/** A transport over one connection, and the way to drop that connection. */
export interface ClosableTransport extends Transport {
  /** Closes the connection; calls already running on it end as they will. */
  close(): void;
}

/**
 * The transport under {@link createGrpcClient}: one HTTP/2 connection to one address that
 * clients of several services can share (a balancer keeps one per replica), made by
 * @grpc/grpc-js under connect's `Transport` interface, so connect clients and interceptors
 * work on it unchanged. `close()` drops the connection (a balancer's replica that left).
 */
export function createGrpcChannel(options: GrpcClientOptions): ClosableTransport {
  const tls = options.tls;
  const interceptors = [
    createClientTracingInterceptor(options.address),
    ...(options.metrics ? [createClientMetricsInterceptor(options.metrics)] : []),
    ...(options.interceptors ?? []),
  ];
  const build = (channelCredentials: ChannelCredentials, serverName?: string) =>
    createGrpcJsTransport({
      address: options.address,
      credentials: channelCredentials,
      channelOptions: grpcJsChannelOptions(serverName),
      defaultTimeoutMs: options.defaultTimeoutMs ?? 30_000,
      interceptors,
    });
  if (!tls) return build(credentials.createInsecure());
  const serverName = typeof tls.serverName === 'function' ? tls.serverName(options.address) : tls.serverName;
  return createReloadingTransport({
    address: options.address,
    files: options.tlsFiles ?? createTlsFiles(tls),
    clock: options.clock ?? systemClock,
    checkIntervalMs: options.tlsCheckIntervalMs,
    build: (material) => {
      // Each version of the files gets its own channel, so its own connection.
      const transport = build(credentials.createSsl(material.ca, material.key, material.cert), serverName);
      return { transport, close: () => transport.close() };
    },
  });
}
