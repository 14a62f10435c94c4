import { Code } from '@connectrpc/connect';
import { ToolErrorCode } from '@toolmesh/proto';

/** The error taxonomy by name, as callers and the model see it in `error_code`. */
export type ToolErrorName =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'FAILED_PRECONDITION'
  | 'CONFLICT'
  | 'TIMEOUT'
  | 'UNAVAILABLE'
  | 'RATE_LIMITED'
  | 'INTERNAL';

// The taxonomy on the wire (ToolError.code) and as a gRPC status, in one row per name.
const taxonomy: Record<ToolErrorName, { wire: ToolErrorCode; status: Code }> = {
  INVALID_ARGUMENT: { wire: ToolErrorCode.INVALID_ARGUMENT, status: Code.InvalidArgument },
  NOT_FOUND: { wire: ToolErrorCode.NOT_FOUND, status: Code.NotFound },
  PERMISSION_DENIED: { wire: ToolErrorCode.PERMISSION_DENIED, status: Code.PermissionDenied },
  FAILED_PRECONDITION: { wire: ToolErrorCode.FAILED_PRECONDITION, status: Code.FailedPrecondition },
  CONFLICT: { wire: ToolErrorCode.CONFLICT, status: Code.Aborted },
  TIMEOUT: { wire: ToolErrorCode.TIMEOUT, status: Code.DeadlineExceeded },
  UNAVAILABLE: { wire: ToolErrorCode.UNAVAILABLE, status: Code.Unavailable },
  RATE_LIMITED: { wire: ToolErrorCode.RATE_LIMITED, status: Code.ResourceExhausted },
  INTERNAL: { wire: ToolErrorCode.INTERNAL, status: Code.Internal },
};
const byWire = new Map<ToolErrorCode, ToolErrorName>(
  Object.entries(taxonomy).map(([name, row]) => [row.wire, name as ToolErrorName]),
);

const byStatus = new Map<Code, ToolErrorName>(
  Object.entries(taxonomy).map(([name, row]) => [row.status, name as ToolErrorName]),
);

/** Wire enum value of a taxonomy name. */
export function toolErrorCode(name: ToolErrorName): ToolErrorCode {
  return taxonomy[name].wire;
}

/** Taxonomy name of a wire enum value; unknown values count as INTERNAL. */
export function toolErrorName(code: ToolErrorCode): ToolErrorName {
  return byWire.get(code) ?? 'INTERNAL';
}

/** The gRPC status a taxonomy name stands for (CONFLICT is ABORTED, TIMEOUT DEADLINE_EXCEEDED). */
export function toolErrorStatus(name: ToolErrorName): Code {
  return taxonomy[name].status;
}

/** The taxonomy name a gRPC status stands for (ABORTED is CONFLICT), if any. */
export function toolErrorForStatus(code: Code): ToolErrorName | undefined {
  return byStatus.get(code);
}

/** What a message of the table may use: the retry hint and the error's metadata. */
export interface ErrorFacts {
  /** When a retry may succeed, in ms from now. */
  retryAfterMs?: number;
  /** Context for the caller (e.g. `tool`, `dependency`); travels in ErrorInfo.metadata. */
  metadata?: Readonly<Record<string, string>>;
}

/** One row of {@link errorTable}. */
export interface ErrorRule {
  /** The status when the error ends an RPC. */
  code: Code;
  /** The taxonomy name when it ends a tool call instead (ToolExecution.error_code). */
  toolError: ToolErrorName;
  /** Whether the same request may succeed later. */
  retryable: boolean;
  /** The public message; never internals. */
  message: (facts: ErrorFacts) => string;
}

/** Whole seconds for a message, at least 1 (a hint of "0 s" reads as "now"). */
export function retrySeconds(retryAfterMs: number | undefined): number {
  return Math.max(1, Math.ceil((retryAfterMs ?? 0) / 1000));
}

const retryLater = (what: string, f: ErrorFacts) =>
  f.retryAfterMs === undefined
    ? `${what}, retry later`
    : `${what}, retry after ${retrySeconds(f.retryAfterMs)} s`;
const tool = (f: ErrorFacts) => f.metadata?.tool ?? 'the tool';

/**
 * The one table of domain errors (ErrorInfo.reason, domain "toolmesh"): the status, the tool
 * error, whether to retry, and the message callers and the model see. Errors raised by code
 * alone (publicError) carry the status's canonical name as their reason instead.
 */
export const errorTable = {
  // The orchestrator's model client failed, or its breaker is open (retryAfterMs: until half-open).
  MODEL_UNAVAILABLE: {
    code: Code.Unavailable,
    toolError: 'UNAVAILABLE',
    retryable: true,
    message: (f) => retryLater('the model is unavailable', f),
  },
  // The service's SQL store refused connections or shut down.
  STORAGE_UNAVAILABLE: {
    code: Code.Unavailable,
    toolError: 'UNAVAILABLE',
    retryable: true,
    message: () => 'storage is unavailable, retry later',
  },
  // A mesh service this one calls (metadata.dependency, e.g. "orchestrator") did not answer.
  DEPENDENCY_UNAVAILABLE: {
    code: Code.Unavailable,
    toolError: 'UNAVAILABLE',
    retryable: true,
    message: (f) => retryLater(`the ${f.metadata?.dependency ?? 'dependency'} is unavailable`, f),
  },
  // The client-side breaker of an upstream is open: the call was not sent.
  CIRCUIT_OPEN: {
    code: Code.Unavailable,
    toolError: 'UNAVAILABLE',
    retryable: true,
    message: () => 'upstream unavailable (circuit open)',
  },
  // A caller's rate limit (metadata.scope, e.g. "user") is spent until retryAfterMs.
  RATE_LIMITED: {
    code: Code.ResourceExhausted,
    toolError: 'RATE_LIMITED',
    retryable: true,
    message: (f) =>
      `rate limit reached for this ${f.metadata?.scope ?? 'caller'}; retry in ${retrySeconds(f.retryAfterMs)} s`,
  },
  // A tenant spent its model tokens of the UTC day (retryAfterMs: until the next UTC midnight).
  TENANT_BUDGET_EXHAUSTED: {
    code: Code.ResourceExhausted,
    toolError: 'RATE_LIMITED',
    retryable: true,
    message: (f) => retryLater("the tenant's token budget for today is spent", f),
  },
  // A tenant runs as many turns at once as it may (retryAfterMs: a hint, turns end on their own).
  TENANT_BUSY: {
    code: Code.ResourceExhausted,
    toolError: 'RATE_LIMITED',
    retryable: true,
    message: (f) => retryLater('the tenant runs as many chats at once as it may', f),
  },
  // A gateway or orchestrator process (metadata.service) runs as many chat turns as it admits;
  // the request was refused before any work, so it may be sent again (elsewhere, or after retryAfterMs).
  OVERLOADED: {
    code: Code.ResourceExhausted,
    toolError: 'RATE_LIMITED',
    retryable: true,
    message: (f) => retryLater(`the ${f.metadata?.service ?? 'server'} is at capacity`, f),
  },
  // Every replica of a tool is refused by its breaker (retryAfterMs: the first to half-open).
  TOOL_UNAVAILABLE: {
    code: Code.Unavailable,
    toolError: 'UNAVAILABLE',
    retryable: true,
    message: (f) =>
      f.retryAfterMs === undefined
        ? `${tool(f)} is unavailable; retry later`
        : `${tool(f)} is unavailable; retry after ${retrySeconds(f.retryAfterMs)} s`,
  },
  // The hop to the tool service failed (refused, reset, cancelled by the peer).
  TOOL_SERVICE_UNAVAILABLE: {
    code: Code.Unavailable,
    toolError: 'UNAVAILABLE',
    retryable: true,
    message: () => 'the tool service is unavailable',
  },
  // The tool service shed the call.
  TOOL_SERVICE_OVERLOADED: {
    code: Code.ResourceExhausted,
    toolError: 'RATE_LIMITED',
    retryable: true,
    message: () => 'the tool service is overloaded',
  },
  // The tool service did not answer within the tool's timeout (retry only if idempotent).
  TOOL_DEADLINE_EXCEEDED: {
    code: Code.DeadlineExceeded,
    toolError: 'TIMEOUT',
    retryable: false,
    message: () => 'the tool did not answer in time',
  },
  // The hop failed in a way that is our bug; details are in the log.
  TOOL_CALL_FAILED: {
    code: Code.Internal,
    toolError: 'INTERNAL',
    retryable: false,
    message: () => 'the tool call failed',
  },
  // The tool service answered InvokeTool with neither a result nor a ToolError.
  TOOL_NO_RESULT: {
    code: Code.Internal,
    toolError: 'INTERNAL',
    retryable: false,
    message: () => 'the tool service gave no result',
  },
  // A tool's handler ran past its timeout (metadata.tool, metadata.timeout_ms).
  TOOL_TIMED_OUT: {
    code: Code.DeadlineExceeded,
    toolError: 'TIMEOUT',
    retryable: true,
    message: (f) => `${tool(f)} timed out after ${f.metadata?.timeout_ms ?? '?'} ms`,
  },
  // The caller of a tool went away before the handler finished.
  CALLER_CANCELLED: {
    code: Code.Canceled,
    toolError: 'TIMEOUT',
    retryable: true,
    message: () => 'the caller cancelled or its deadline passed',
  },
  // The tool's data store cancelled a statement at the deadline.
  DATA_STORE_TIMEOUT: {
    code: Code.DeadlineExceeded,
    toolError: 'TIMEOUT',
    retryable: true,
    message: (f) => `${tool(f)} timed out in its data store`,
  },
  // The tool's data store refused a value (SQLSTATE class 22): bad input.
  VALUE_NOT_STORABLE: {
    code: Code.InvalidArgument,
    toolError: 'INVALID_ARGUMENT',
    retryable: false,
    message: () => 'an argument value cannot be stored',
  },
  // The tool's data store is unreachable.
  DATA_STORE_UNAVAILABLE: {
    code: Code.Unavailable,
    toolError: 'UNAVAILABLE',
    retryable: true,
    message: (f) => `${tool(f)}: data store unavailable, retry later`,
  },
  // A tool's handler threw something unexpected; details are in the log.
  TOOL_INTERNAL: {
    code: Code.Internal,
    toolError: 'INTERNAL',
    retryable: false,
    message: () => 'internal error in the tool',
  },
} as const satisfies Record<string, ErrorRule>;

/** A reason of {@link errorTable}. */
export type ErrorReason = keyof typeof errorTable;

/** True for a reason of {@link errorTable} (e.g. read from another service's ErrorInfo). */
export function isErrorReason(reason: string): reason is ErrorReason {
  return Object.hasOwn(errorTable, reason);
}

// Messages for statuses passed on without their own (possibly internal) message.
const statusMessages: Partial<Record<Code, string>> = {
  [Code.Canceled]: 'the call was cancelled',
  [Code.DeadlineExceeded]: 'deadline exceeded',
  [Code.Unavailable]: 'a dependency is unavailable, retry later',
  [Code.ResourceExhausted]: 'resource exhausted, retry later',
  [Code.Internal]: 'internal error',
};

/** The public message of a status whose own message may hold internals. */
export function statusMessage(code: Code): string {
  return statusMessages[code] ?? Code[code] ?? 'error';
}

/** A tool call's failure as the model and the caller see it. */
export interface ToolFailureInfo {
  reason: ErrorReason;
  code: ToolErrorName;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
}

/** A tool failure of the table, e.g. `toolFailure('TOOL_UNAVAILABLE', { retryAfterMs, metadata: { tool } })`. */
export function toolFailure(reason: ErrorReason, facts: ErrorFacts = {}): ToolFailureInfo {
  const rule: ErrorRule = errorTable[reason];
  return {
    reason,
    code: rule.toolError,
    message: rule.message(facts),
    retryable: rule.retryable,
    ...(facts.retryAfterMs !== undefined ? { retryAfterMs: facts.retryAfterMs } : {}),
  };
}
