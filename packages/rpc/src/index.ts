export { Code, ConnectError, type HandlerContext, type Interceptor } from '@connectrpc/connect';
// Kept here for the error boundaries that import it from rpc; it lives where the database can use it too.
export { isStorageUnavailable } from '@toolmesh/resilience';
export * from './balancing/index.ts';
export { createClientTracingInterceptor } from './client-tracing-interceptor.ts';
export {
  type Admission,
  type AdmissionInterceptorOptions,
  createAdmissionInterceptor,
  isOverloadedError,
  overloadedError,
} from './create-admission-interceptor.ts';
export { createClientPool } from './create-client-pool.ts';
export {
  type ClosableTransport,
  createGrpcChannel,
  createGrpcClient,
  type GrpcClientOptions,
} from './create-grpc-client.ts';
export {
  createProtocolListener,
  type Http2Limits,
  type ListenerTlsOptions,
  meshHttp2Limits,
  type ProtocolListener,
  type ProtocolListenerOptions,
  publicHttp2Limits,
  type RequestHandler,
} from './create-protocol-listener.ts';
export {
  createResilienceInterceptor,
  type ResilienceOptions,
} from './create-resilience-interceptor.ts';
export {
  createServer,
  type EarlyRefusal,
  type HttpRoute,
  type Server,
  type ServerOptions,
  type ServerProtocols,
} from './create-server.ts';
export { createErrorBoundary, type ErrorBoundaryOptions, type ErrorMapper } from './error-boundary.ts';
export {
  type CreateErrorOptions,
  createError,
  type ErrorInfoView,
  errorDomain,
  errorFor,
  isPublicError,
  publicError,
  readErrorInfo,
  withErrorInfo,
} from './error-details.ts';
export {
  type ErrorFacts,
  type ErrorReason,
  type ErrorRule,
  errorTable,
  isErrorReason,
  retrySeconds,
  statusMessage,
  type ToolErrorName,
  type ToolFailureInfo,
  toolErrorCode,
  toolErrorForStatus,
  toolErrorName,
  toolErrorStatus,
  toolFailure,
} from './error-table.ts';
export { createClientMetricsInterceptor, createServerMetricsInterceptor } from './grpc-metrics.ts';
export { canonicalCodeName, grpcCodeName, grpcStatusCode } from './grpc-status.ts';
export { type HandleShutdownOptions, handleShutdown } from './handle-shutdown.ts';
export { createHealthRegistry, type HealthRegistry } from './health-registry.ts';
export { holdForCall } from './hold-for-call.ts';
export { isTransportFailure } from './is-transport-failure.ts';
export { isUnsentError } from './is-unsent-error.ts';
export * from './mesh-auth/index.ts';
export { observeStream, type StreamObserver } from './observe-stream.ts';
export { isOpenService } from './open-services.ts';
export { createReflectionRegistrations } from './reflection-service.ts';
export { type RelayErrorOptions, relayError } from './relay-error.ts';
export { requestIdKey } from './request-id-key.ts';
export { createRetryBudget, type RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';
export { isSanitizedError, sanitizedErrorHeader } from './sanitized-error.ts';
export {
  createServerTracingInterceptor,
  edgeRequestIdPattern,
  headerGetter,
  type ServerTracingOptions,
} from './server-tracing-interceptor.ts';
export { type ServiceRegistration, serviceRegistration } from './service-registration.ts';
export {
  createTlsFiles,
  type TlsFiles,
  type TlsFilesOptions,
  type TlsMaterial,
} from './tls/create-tls-files.ts';
export { type ClientTlsSettings, defaultTlsCheckIntervalMs, type TlsSettings } from './tls/tls-settings.ts';
export { isBrokenInTransit, type ToolCallFailureOptions, toolCallFailure } from './tool-call-failure.ts';
export { type WaitForServingOptions, waitForServing } from './wait-for-serving.ts';
export { type CorsOptions, withCors } from './with-cors.ts';
