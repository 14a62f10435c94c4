import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { ServiceRegistration } from '../service-registration.ts';
import { createGrpcHandler, type GrpcHandlerOptions } from './create-grpc-handler.ts';
import { grpcServiceDefinition } from './grpc-service-definition.ts';

/** Adds every registration's methods to a grpc-js server, each through {@link createGrpcHandler}. */
export function addRegistrations(
  server: GrpcServer,
  registrations: readonly ServiceRegistration[],
  options: GrpcHandlerOptions,
): void {
  for (const registration of registrations) {
    const handlers: Record<string, ReturnType<typeof createGrpcHandler>> = {};
    for (const [name, spec] of Object.entries(registration.spec.methods)) {
      handlers[name] = createGrpcHandler(spec, options);
    }
    server.addService(grpcServiceDefinition(registration.service), handlers);
  }
}
