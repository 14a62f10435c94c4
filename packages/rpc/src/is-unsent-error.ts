import { Code, ConnectError } from '@connectrpc/connect';

/**
 * True when the request never left this process (the connection was refused or
 * the host unreachable): sending it again, even elsewhere, cannot do anything twice.
 */
export function isUnsentError(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    error.code === Code.Unavailable &&
    /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/.test(
      `${error.message} ${String(error.cause)}`,
    )
  );
}
