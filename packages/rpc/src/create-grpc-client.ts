import type { DescService } from '@bufbuild/protobuf';
import { type Client, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import type { Registry } from '@toolmesh/telemetry';
import { createClientTracingInterceptor } from './client-tracing-interceptor.ts';
import { createClientMetricsInterceptor } from './grpc-metrics.ts';
import { sessionMemoryMb } from './session-memory.ts';

/** Options of {@link createGrpcClient}. */
export interface GrpcClientOptions {
  /** host:port of the server. */
  address: string;
  /** Deadline of calls that set none; default 30 s. A call's own timeoutMs wins. */
  defaultTimeoutMs?: number;
  interceptors?: Interceptor[];
  /** Records the grpc_client_* series of every call (the process's registry); none without. */
  metrics?: Registry;
}

/**
 * A gRPC client over HTTP/2 without TLS, with a default deadline on every call. Every call
 * carries the active trace context and request id on; with `metrics` it is counted too.
 */
export function createGrpcClient<T extends DescService>(service: T, options: GrpcClientOptions): Client<T> {
  const transport = createGrpcTransport({
    baseUrl: `http://${options.address}`,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 30_000,
    interceptors: [
      createClientTracingInterceptor(options.address),
      ...(options.metrics ? [createClientMetricsInterceptor(options.metrics)] : []),
      ...(options.interceptors ?? []),
    ],
    nodeOptions: { maxSessionMemory: sessionMemoryMb },
    // Keepalive pings notice a dead peer instead of waiting for the deadline.
    pingIntervalMs: 30_000,
    pingTimeoutMs: 10_000,
  });
  return createClient(service, transport);
}
