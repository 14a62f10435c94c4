import type { ServiceDefinition } from '@grpc/grpc-js';

const identity = (bytes: Buffer) => bytes;
const bytesMethod = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

/** Path of the bare echo. */
export const echoPath = '/bench.v1.EchoService/Echo';
/** ToolService/InvokeTool, answered by the bare server with fixed bytes (to time a client alone). */
export const invokeToolPath = '/toolmesh.v1.ToolService/InvokeTool';

/**
 * Unary methods with no codec at all (bytes in, bytes out): the floor any gRPC
 * hop on Node can reach, which the tool hop is compared with.
 */
export const rawEchoService = {
  echo: bytesMethod(echoPath),
  invokeTool: bytesMethod(invokeToolPath),
} satisfies ServiceDefinition;
