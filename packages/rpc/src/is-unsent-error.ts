import { Code, ConnectError } from '@connectrpc/connect';

// The connection itself failed, so no byte of the request left this process; or the
// server refused the stream unprocessed (HTTP/2 REFUSED_STREAM, e.g. a stream opened
// while it was sending GOAWAY to drain), which RFC 9113 §8.7 declares safe to retry.
const unsentPattern =
  /connect (ECONNREFUSED|EHOSTUNREACH|ENETUNREACH)|getaddrinfo (ENOTFOUND|EAI_AGAIN)|NGHTTP2_REFUSED_STREAM/;

/**
 * True when the request never reached a handler (the connection was refused, the
 * host unreachable, or the stream refused by a draining server): sending it again,
 * even elsewhere, cannot do anything twice (gRPC's "transparent retry").
 * connect-node labels these UNAVAILABLE, or INTERNAL when the node error comes from
 * another realm (jest's VM contexts), so the message decides.
 */
export function isUnsentError(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    (error.code === Code.Unavailable || error.code === Code.Internal) &&
    unsentPattern.test(`${error.message} ${String(error.cause)}`)
  );
}
