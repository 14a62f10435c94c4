import { Code, ConnectError } from '@connectrpc/connect';
import { Metadata } from '@grpc/grpc-js';
import { addHeaderToMetadata } from './metadata-pairs.ts';

// grpc-js writes these itself from the call (path, deadline, codec, connection); a copy from
// the caller would be sent twice or clash.
const protocolHeaders = new Set([
  'content-type',
  'te',
  'user-agent',
  'host',
  'connection',
  'grpc-timeout',
  'grpc-encoding',
  'grpc-accept-encoding',
]);

/**
 * A call's request headers as grpc-js metadata. Binary (`-bin`) headers hold base64, as connect
 * writes them (`encodeBinaryHeader`), several values joined by ", "; grpc-js wants the bytes.
 * A value grpc-js cannot send (not printable ASCII) fails the call as INVALID_ARGUMENT.
 */
export function headersToMetadata(headers: Headers): Metadata {
  const metadata = new Metadata();
  try {
    headers.forEach((value, key) => {
      if (!protocolHeaders.has(key)) addHeaderToMetadata(metadata, key, value);
    });
  } catch (error) {
    throw new ConnectError(
      `request header not sendable over gRPC: ${error instanceof Error ? error.message : String(error)}`,
      Code.InvalidArgument,
      undefined,
      undefined,
      error,
    );
  }
  return metadata;
}
