import type { DescService } from '@bufbuild/protobuf';
import type { ConnectRouter, ServiceImpl } from '@connectrpc/connect';

/** A service implementation ready to be mounted on a server. */
export interface ServiceRegistration {
  readonly service: DescService;
  register(router: ConnectRouter): void;
}

/** Pairs a generated service descriptor with its implementation, keeping the types checked. */
export function serviceRegistration<T extends DescService>(
  service: T,
  implementation: Partial<ServiceImpl<T>>,
): ServiceRegistration {
  return { service, register: (router) => router.service(service, implementation) };
}
