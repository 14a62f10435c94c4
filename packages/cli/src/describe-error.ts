import { Code, ConnectError } from '@connectrpc/connect';
import {
  canonicalCodeName,
  type ErrorInfoView,
  errorDomain,
  readErrorInfo,
  retrySeconds,
} from '@toolmesh/rpc';

/** What the CLI prints for a failed call. */
export interface ErrorDescription {
  /** Canonical gRPC code name, e.g. "UNAUTHENTICATED"; "ERROR" for a non-RPC failure. */
  code: string;
  message: string;
  /** What to try next, when the code or the reason suggests something. */
  hint?: string;
  /** The error's reason (ErrorInfo), e.g. "MODEL_UNAVAILABLE", when the server gave one. */
  reason?: string;
  /** When to retry (RetryInfo), when the server said so. */
  retryAfterMs?: number;
}

/** What the hints may mention. */
export interface ErrorContext {
  /** The gateway URL in use. */
  baseUrl: string;
  /** The RPC that failed, e.g. "toolmesh.v1.AuditService/ListAuditRecords". */
  rpc?: string;
}

/** "PermissionDenied" → "PERMISSION_DENIED", the spelling grpcurl and the gRPC docs use. */
export const grpcCodeName: (code: Code) => string = canonicalCodeName;

const retryIn = (info: ErrorInfoView | undefined) =>
  info?.retryAfterMs === undefined ? 'retry later' : `retry in ${retrySeconds(info.retryAfterMs)} s`;

// The gateway answered UNAVAILABLE itself (its ErrorInfo says so): something behind it is down.
function unavailableBehind(info: ErrorInfoView): string {
  switch (info.reason) {
    case 'MODEL_UNAVAILABLE':
      return `the gateway is up, but the model is unavailable: ${retryIn(info)}`;
    case 'STORAGE_UNAVAILABLE':
      return `the gateway is up, but the mesh's storage is unavailable: ${retryIn(info)}`;
    case 'DEPENDENCY_UNAVAILABLE':
      return `the gateway is up, but the ${info.metadata.dependency ?? 'service behind it'} is unavailable: ${retryIn(info)}`;
    default:
      return `the gateway is up, but a service behind it is unavailable: ${retryIn(info)}`;
  }
}

function hintFor(
  error: ConnectError,
  info: ErrorInfoView | undefined,
  context: ErrorContext,
): string | undefined {
  switch (error.code) {
    case Code.Unauthenticated:
      return 'pass a valid key with --api-key <key> (or set TOOLMESH_API_KEY)';
    case Code.PermissionDenied:
      if (context.rpc?.startsWith('toolmesh.v1.AuditService/')) {
        return 'reading the audit log needs the audit:read permission (dev key: dev-key-operator)';
      }
      if (context.rpc?.startsWith('toolmesh.v1.UsageService/')) {
        return "reading usage needs the usage:read permission (dev key: dev-key-operator); another tenant's needs usage:read:all-tenants";
      }
      return 'your API key lacks the permission this needs';
    case Code.Unavailable:
      if (info?.domain === errorDomain) return unavailableBehind(info);
      return `is the gateway running at ${context.baseUrl}? Set --gateway <host:port or URL> (or TOOLMESH_GATEWAY), and --tls for an https gateway`;
    case Code.Unimplemented:
      return `the gateway at ${context.baseUrl} does not serve ${context.rpc ?? 'this call'} (yet)`;
    case Code.DeadlineExceeded:
      return 'raise the deadline with --timeout <seconds>';
    case Code.ResourceExhausted:
      if (info?.reason === 'TENANT_BUDGET_EXHAUSTED')
        return `your tenant's token budget is spent: ${retryIn(info)}`;
      if (info?.reason === 'TENANT_BUSY')
        return `your tenant runs as many chats at once as it may: ${retryIn(info)}`;
      return info?.retryAfterMs === undefined
        ? 'rate limited: wait a moment and retry'
        : `rate limited: ${retryIn(info)}`;
    default:
      return undefined;
  }
}

/** Turns any failure into a code, a message, a hint, and the server's reason and retry hint. */
export function describeError(error: unknown, context: ErrorContext): ErrorDescription {
  if (error instanceof ConnectError) {
    const info = readErrorInfo(error);
    const hint = hintFor(error, info, context);
    return {
      code: grpcCodeName(error.code),
      message: error.rawMessage,
      ...(hint ? { hint } : {}),
      // A reason that only repeats the code adds nothing.
      ...(info?.reason && info.reason !== grpcCodeName(error.code) ? { reason: info.reason } : {}),
      ...(info?.retryAfterMs !== undefined ? { retryAfterMs: info.retryAfterMs } : {}),
    };
  }
  return { code: 'ERROR', message: error instanceof Error ? error.message : String(error) };
}
