import { Code, ConnectError } from '@connectrpc/connect';
import { findTrailerError } from '@connectrpc/connect/protocol-grpc';
import type { Metadata } from '@grpc/grpc-js';
import { metadataToHeaders } from './metadata-to-headers.ts';

/** What grpc-js reports at the end of a failed call (a ServiceError carries the same fields). */
export interface GrpcJsStatus {
  code: number;
  details: string;
  metadata: Metadata;
}

// grpc-js reads grpc-message with decodeURI, which keeps the escapes of URI delimiters that
// connect (encodeURIComponent) writes: "a%2C b" for "a, b". Undone here (a message whose
// own text held such an escape would lose it; rare, and only the wording suffers).
const keptEscapes = /%(2[346BCFbcf]|3[ABDFabdf]|40)/g;

/**
 * The ConnectError of a failed grpc-js call, read as connect-node reads a gRPC response
 * (connect's own `findTrailerError`): code and message, the typed details of
 * `grpc-status-details-bin` (ErrorInfo, RetryInfo …, preferred when present), and the
 * trailers as metadata. `cause` is kept for the log and for {@link isUnsentError}.
 */
export function connectErrorFromStatus(status: GrpcJsStatus, cause?: unknown): ConnectError {
  const trailer = metadataToHeaders(status.metadata);
  const message = status.details.replace(keptEscapes, (kept) => decodeURIComponent(kept));
  trailer.set('grpc-status', String(status.code));
  trailer.set('grpc-message', encodeURIComponent(message));
  const error =
    findTrailerError(trailer) ??
    // Details that say OK under a failed status: the status decides.
    new ConnectError(message, status.code in Code ? status.code : Code.Unknown, trailer);
  error.cause = cause;
  return error;
}
