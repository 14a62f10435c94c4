import {
  type DescMessage,
  type DescMethod,
  fromBinary,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';

/** How grpc-js calls one method: its path, and protobuf-es binary encoding both ways. */
export interface MethodCodec {
  /** "/package.Service/Method". */
  path: string;
  serialize(message: MessageShape<DescMessage>): Buffer;
  deserialize(bytes: Buffer): MessageShape<DescMessage>;
}

const codecs = new WeakMap<DescMethod, MethodCodec>();

/** The codec of a method, made once per method (every call of it reuses the closures). */
export function methodCodec(method: DescMethod): MethodCodec {
  let codec = codecs.get(method);
  if (!codec) {
    const { input, output } = method;
    codec = {
      path: `/${method.parent.typeName}/${method.name}`,
      serialize: (message) => {
        const bytes = toBinary(input, message);
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      },
      deserialize: (bytes) => fromBinary(output, bytes),
    };
    codecs.set(method, codec);
  }
  return codec;
}
