// Public surface of the generated code. Reflection v1 and v1alpha share message
// names, so they are exported as namespaces; so are google.rpc's error details,
// whose generic names (RequestInfo, Help) would crowd ours.
export * as googleRpc from './gen/google/rpc/error_details_pb.ts';
export * from './gen/grpc/health/v1/health_pb.ts';
export * as reflectionV1 from './gen/grpc/reflection/v1/reflection_pb.ts';
export * as reflectionV1alpha from './gen/grpc/reflection/v1alpha/reflection_pb.ts';
export * from './gen/toolmesh/v1/assistant_pb.ts';
export * from './gen/toolmesh/v1/audit_pb.ts';
export * from './gen/toolmesh/v1/chat_pb.ts';
export * from './gen/toolmesh/v1/principal_pb.ts';
export * from './gen/toolmesh/v1/registry_pb.ts';
export * from './gen/toolmesh/v1/task_pb.ts';
export * from './gen/toolmesh/v1/tool_call_pb.ts';
export * from './gen/toolmesh/v1/tool_pb.ts';
export * from './gen/toolmesh/v1/usage_pb.ts';
