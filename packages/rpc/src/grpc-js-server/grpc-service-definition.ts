import {
  type DescMessage,
  type DescService,
  fromBinary,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

/** A request that did not decode; the handler answers INVALID_ARGUMENT instead of grpc-js' INTERNAL. */
export class UndecodableRequest {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
}

function serializer<T extends DescMessage>(schema: T) {
  return (message: MessageShape<T>): Buffer => {
    const bytes = toBinary(schema, message);
    // grpc-js copies out of a Buffer; a view over the same memory avoids a copy.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<T extends DescMessage>(schema: T) {
  return (bytes: Buffer): MessageShape<T> | UndecodableRequest => {
    try {
      return fromBinary(schema, bytes);
    } catch (error) {
      // Broken protobuf or invalid UTF-8 in a string: the caller's mistake, reported as such.
      return new UndecodableRequest(error instanceof Error ? error.message : String(error));
    }
  };
}

/**
 * A protobuf-es service descriptor as grpc-js' service definition: one method per RPC at
 * `/package.Service/Method`, messages (de)serialized by protobuf-es. A request that does not
 * decode becomes an {@link UndecodableRequest} for the handler to refuse.
 */
export function grpcServiceDefinition(service: DescService): ServiceDefinition {
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
      responseStream: method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
      requestSerialize: serializer(method.input) as (value: unknown) => Buffer,
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output) as (value: unknown) => Buffer,
      responseDeserialize: deserializer(method.output),
      originalName: method.localName,
    };
  }
  return definition as ServiceDefinition;
}
