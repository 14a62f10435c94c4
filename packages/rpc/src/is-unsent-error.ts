import { Code, ConnectError } from '@connectrpc/connect';

// The connection itself failed, so no byte of the request left this process.
const unsentPattern = /connect (ECONNREFUSED|EHOSTUNREACH|ENETUNREACH)|getaddrinfo (ENOTFOUND|EAI_AGAIN)/;

/**
 * True when the request never left this process (the connection was refused or
 * the host unreachable): sending it again, even elsewhere, cannot do anything twice.
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
