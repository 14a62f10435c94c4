import type { Interceptor, Transport } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';

/** Sends `authorization: Bearer <key>` on every call. */
const withKey =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set('authorization', `Bearer ${key}`);
    return next(req);
  };

/** A gRPC transport to the gateway as the holder of `key` (none: unauthenticated). */
export function gatewayTransport(address: string, key?: string): Transport {
  return createGrpcTransport({
    baseUrl: `http://${address}`,
    interceptors: key ? [withKey(key)] : [],
    defaultTimeoutMs: 30_000,
  });
}
