import { Code, ConnectError } from '@connectrpc/connect';
import { setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import type { Metadata, ServerErrorResponse } from '@grpc/grpc-js';
import { metadataFromHeaders } from './metadata-from-headers.ts';

/** What grpc-js sends as a call's status: code, message, and the trailers with the details. */
export interface GrpcErrorResponse extends ServerErrorResponse {
  code: number;
  details: string;
  metadata: Metadata;
}

/**
 * A call's error as grpc-js sends it, byte for byte what connect-node's gRPC handler sends:
 * connect's own `setTrailerStatus` writes the trailers (the error's metadata, the google.rpc.Status
 * with ErrorInfo, RetryInfo … in `grpc-status-details-bin`) next to the handler's trailers.
 * Only error boundaries' ConnectErrors should get here; anything else is INTERNAL with no text.
 */
export function grpcErrorResponse(error: unknown, trailer?: Headers): GrpcErrorResponse {
  const status = error instanceof ConnectError ? error : new ConnectError('internal error', Code.Internal);
  const headers = setTrailerStatus(new Headers(trailer), status);
  return {
    name: 'GrpcStatus',
    message: status.rawMessage,
    code: status.code,
    details: status.rawMessage,
    metadata: metadataFromHeaders(headers),
  };
}
