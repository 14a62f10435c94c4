import type { DescService } from '@bufbuild/protobuf';
import { type Client, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';

/** Options of {@link createGrpcClient}. */
export interface GrpcClientOptions {
  /** host:port of the server. */
  address: string;
  /** Deadline of calls that set none; default 30 s. A call's own timeoutMs wins. */
  defaultTimeoutMs?: number;
  interceptors?: Interceptor[];
}

/** A gRPC client over HTTP/2 without TLS, with a default deadline on every call. */
export function createGrpcClient<T extends DescService>(service: T, options: GrpcClientOptions): Client<T> {
  const transport = createGrpcTransport({
    baseUrl: `http://${options.address}`,
    defaultTimeoutMs: options.defaultTimeoutMs ?? 30_000,
    interceptors: options.interceptors ?? [],
    // Keepalive pings notice a dead peer instead of waiting for the deadline.
    pingIntervalMs: 30_000,
    pingTimeoutMs: 10_000,
  });
  return createClient(service, transport);
}
