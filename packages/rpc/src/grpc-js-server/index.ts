export { createGrpcHandler, type GrpcHandlerOptions } from './create-grpc-handler.ts';
export { createGrpcJsServer, type GrpcJsServerOptions } from './create-grpc-js-server.ts';
export {
  createGrpcStreamHandler,
  type GrpcStreamHandler,
  type GrpcStreamHandlerOptions,
} from './create-grpc-stream-handler.ts';
export {
  createTlsCertificateProvider,
  type TlsCertificateProvider,
} from './create-tls-certificate-provider.ts';
export { grpcErrorResponse } from './grpc-error-response.ts';
export { grpcServiceDefinition, UndecodableRequest } from './grpc-service-definition.ts';
