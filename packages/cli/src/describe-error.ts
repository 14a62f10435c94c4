import { Code, ConnectError } from '@connectrpc/connect';

/** What the CLI prints for a failed call. */
export interface ErrorDescription {
  /** Canonical gRPC code name, e.g. "UNAUTHENTICATED"; "ERROR" for a non-RPC failure. */
  code: string;
  message: string;
  /** What to try next, when the code suggests something. */
  hint?: string;
}

/** What the hints may mention. */
export interface ErrorContext {
  /** The gateway URL in use. */
  baseUrl: string;
  /** The RPC that failed, e.g. "toolmesh.v1.AuditService/ListAuditRecords". */
  rpc?: string;
}

/** "PermissionDenied" → "PERMISSION_DENIED", the spelling grpcurl and the gRPC docs use. */
export function grpcCodeName(code: Code): string {
  return (Code[code] ?? 'Unknown').replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

function hintFor(error: ConnectError, context: ErrorContext): string | undefined {
  switch (error.code) {
    case Code.Unauthenticated:
      return 'pass a valid key with --api-key <key> (or set TOOLMESH_API_KEY)';
    case Code.PermissionDenied:
      return context.rpc?.startsWith('toolmesh.v1.AuditService/')
        ? 'reading the audit log needs the audit:read permission (dev key: dev-key-operator)'
        : 'your API key lacks the permission this needs';
    case Code.Unavailable:
      return `is the gateway running at ${context.baseUrl}? Set --gateway <host:port or URL> (or TOOLMESH_GATEWAY), and --tls for an https gateway`;
    case Code.Unimplemented:
      return `the gateway at ${context.baseUrl} does not serve ${context.rpc ?? 'this call'} (yet)`;
    case Code.DeadlineExceeded:
      return 'raise the deadline with --timeout <seconds>';
    case Code.ResourceExhausted:
      return 'rate limited: wait a moment and retry';
    default:
      return undefined;
  }
}

/** Turns any failure into a code, a message and a hint. */
export function describeError(error: unknown, context: ErrorContext): ErrorDescription {
  if (error instanceof ConnectError) {
    const hint = hintFor(error, context);
    return { code: grpcCodeName(error.code), message: error.rawMessage, ...(hint ? { hint } : {}) };
  }
  return { code: 'ERROR', message: error instanceof Error ? error.message : String(error) };
}
