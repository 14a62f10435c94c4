export { createGrpcClient, type GrpcClientOptions } from './create-grpc-client.ts';
export { createServer, type Server, type ServerOptions } from './create-server.ts';
export { createErrorBoundary, type ErrorBoundaryOptions, type ErrorMapper } from './error-boundary.ts';
export { createHealthRegistry, type HealthRegistry } from './health-registry.ts';
export { isPublicError, publicError } from './public-error.ts';
export { createReflectionRegistrations } from './reflection-service.ts';
export { type ServiceRegistration, serviceRegistration } from './service-registration.ts';
export { type WaitForServingOptions, waitForServing } from './wait-for-serving.ts';
export { Code, ConnectError, type HandlerContext, type Interceptor } from '@connectrpc/connect';
