import type { DescService } from '@bufbuild/protobuf';
import {
  type ConnectRouter,
  createServiceImplSpec,
  type ServiceImpl,
  type ServiceImplSpec,
} from '@connectrpc/connect';

/** A service implementation ready to be mounted on a server. */
export interface ServiceRegistration {
  readonly service: DescService;
  /** Mounts it on connect-node's router (gRPC-Web and Connect at the gateway's public port). */
  register(router: ConnectRouter): void;
  /**
   * The implementation with each method bound to its descriptor (an absent one answers
   * UNIMPLEMENTED), for servers that call it without connect's router (grpc-js).
   */
  readonly spec: ServiceImplSpec;
}

/** Pairs a generated service descriptor with its implementation, keeping the types checked. */
export function serviceRegistration<T extends DescService>(
  service: T,
  implementation: Partial<ServiceImpl<T>>,
): ServiceRegistration {
  return {
    service,
    register: (router) => router.service(service, implementation),
    spec: createServiceImplSpec(service, implementation),
  };
}
