import { Code, ConnectError } from '@connectrpc/connect';

// The connection itself failed, so no byte of the request left this process; or the
// server refused the stream unprocessed (HTTP/2 REFUSED_STREAM, e.g. a stream opened
// while it was sending GOAWAY to drain), which RFC 9113 §8.7 declares safe to retry.
// Node's wording (connect-node, and grpc-js's "No connection established. Last error: …"),
// then grpc-js's own: a name that did not resolve, a refused stream, a channel closed
// before the call could start.
const unsentPattern = new RegExp(
  [
    'connect (ECONNREFUSED|EHOSTUNREACH|ENETUNREACH)',
    'getaddrinfo (ENOTFOUND|EAI_AGAIN)',
    'NGHTTP2_REFUSED_STREAM',
    'Name resolution failed for target',
    'Stream refused by server',
    'Channel closed before call started',
  ].join('|'),
);

/**
 * True when the request never reached a handler (the connection was refused, the
 * host unreachable or its name unknown, or the stream refused by a draining server):
 * sending it again, even elsewhere, cannot do anything twice (gRPC's "transparent retry").
 * The clients label these UNAVAILABLE (connect-node INTERNAL when the node error comes
 * from another realm, jest's VM contexts), so the message decides.
 */
export function isUnsentError(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    (error.code === Code.Unavailable || error.code === Code.Internal) &&
    unsentPattern.test(`${error.message} ${String(error.cause)}`)
  );
}
