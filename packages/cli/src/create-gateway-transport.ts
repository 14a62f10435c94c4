import type { Interceptor, Transport } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';

/** Wire protocols the gateway speaks on its one port. */
export const protocols = ['grpc', 'grpc-web', 'connect'] as const;
/** One of {@link protocols}. */
export type Protocol = (typeof protocols)[number];

/** Options of {@link createGatewayTransport}. */
export interface GatewayTransportOptions {
  baseUrl: string;
  apiKey: string;
  /** gRPC over HTTP/2 (default); gRPC-Web and Connect go over HTTP/1.1, for proxies that only speak it. */
  protocol: Protocol;
  /** Deadline of calls that set none; undefined leaves it to the gateway. */
  defaultTimeoutMs?: number;
}

/** A transport to the gateway that sends `authorization: Bearer <key>` on every call. */
export function createGatewayTransport(options: GatewayTransportOptions): Transport {
  const authorize: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${options.apiKey}`);
    req.header.set('user-agent', 'toolmesh-cli');
    return next(req);
  };
  const common = {
    baseUrl: options.baseUrl,
    interceptors: [authorize],
    defaultTimeoutMs: options.defaultTimeoutMs,
  };
  switch (options.protocol) {
    case 'grpc':
      return createGrpcTransport(common);
    case 'grpc-web':
      return createGrpcWebTransport({ ...common, httpVersion: '1.1' });
    case 'connect':
      return createConnectTransport({ ...common, httpVersion: '1.1' });
  }
}
