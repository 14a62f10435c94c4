import { Code, ConnectError } from '@connectrpc/connect';

// By name rather than class: an AbortSignal's reason may come from another realm (a DOMException).
function codeOf(error: unknown): Code {
  if (error instanceof ConnectError) return error.code;
  const name = (error as { name?: unknown } | undefined)?.name;
  if (name === 'AbortError') return Code.Canceled;
  if (name === 'TimeoutError') return Code.DeadlineExceeded;
  return ConnectError.from(error).code;
}

/** The grpc_code label: the status code's name as grpc-go spells it (OK, NotFound, Unavailable, …). */
export function grpcCodeName(error?: unknown): string {
  if (error === undefined) return 'OK';
  return Code[codeOf(error)] ?? 'Unknown';
}

/** The numeric status code (0 for OK), as rpc.grpc.status_code of a span. */
export function grpcStatusCode(error?: unknown): number {
  return error === undefined ? 0 : codeOf(error);
}

/** "PermissionDenied" → "PERMISSION_DENIED": the canonical spelling of grpcurl, the gRPC docs and ErrorInfo reasons. */
export function canonicalCodeName(code: Code): string {
  return (Code[code] ?? 'Unknown').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}
