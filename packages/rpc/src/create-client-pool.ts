import type { DescService } from '@bufbuild/protobuf';
import type { Client } from '@connectrpc/connect';
import { createGrpcClient, type GrpcClientOptions } from './create-grpc-client.ts';

/** One client per address, created on first use: for calls whose target is known only at run time. */
export function createClientPool<T extends DescService>(
  service: T,
  options: Omit<GrpcClientOptions, 'address'> = {},
): (address: string) => Client<T> {
  const clients = new Map<string, Client<T>>();
  return (address) => {
    let client = clients.get(address);
    if (!client) {
      client = createGrpcClient(service, { ...options, address });
      clients.set(address, client);
    }
    return client;
  };
}
