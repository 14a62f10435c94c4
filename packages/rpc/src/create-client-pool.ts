import type { DescService } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import { createGrpcClient, type GrpcClientOptions } from './create-grpc-client.ts';
import { createTlsFiles } from './tls/create-tls-files.ts';

/**
 * One client per address, created on first use: for calls whose target is known only at run
 * time. With `tls`, the files are read once for the whole pool (a missing or mismatched file
 * fails here, at start, not at the first call) and every client takes rotated ones.
 */
export function createClientPool<T extends DescService>(
  service: T,
  options: Omit<GrpcClientOptions, 'address'> = {},
): (address: string) => Client<T> {
  const tlsFiles = options.tlsFiles ?? (options.tls ? createTlsFiles(options.tls) : undefined);
  const clients = new Map<string, Client<T>>();
  return (address) => {
    let client = clients.get(address);
    if (!client) {
      client = createGrpcClient(service, { ...options, tlsFiles, address });
      clients.set(address, client);
    }
    return client;
  };
}
