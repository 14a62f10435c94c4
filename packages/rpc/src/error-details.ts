import { type Code, ConnectError } from '@connectrpc/connect';
import { googleRpc } from '@toolmesh/proto';
import { type ErrorFacts, type ErrorReason, type ErrorRule, errorTable } from './error-table.ts';
import { canonicalCodeName } from './grpc-status.ts';

/** ErrorInfo.domain of every error toolmesh raises. */
export const errorDomain = 'toolmesh';

/** Options of {@link createError}. */
export interface CreateErrorOptions extends ErrorFacts {
  /** What went wrong inside, for the log; never sent. */
  cause?: unknown;
  /**
   * False for an error raised on the client side of a hop (e.g. an open breaker): it keeps
   * its details but stays subject to the error boundary, like any error not written for
   * this service's caller. Default true.
   */
  forCaller?: boolean;
}

/** An error's typed details as read back by {@link readErrorInfo}. */
export interface ErrorInfoView {
  /** ErrorInfo.reason: a reason of the error table or a status name ("NOT_FOUND"); "" if none came. */
  reason: string;
  /** ErrorInfo.domain ("toolmesh" for ours); "" if none came. */
  domain: string;
  /** ErrorInfo.metadata. */
  metadata: Record<string, string>;
  /** RetryInfo.retry_delay in ms, when the error says when to retry. */
  retryAfterMs?: number;
}

// Errors a handler raises on purpose carry a message written for the caller.
// Every other error may hold internals (addresses, SQL, stack) and is rewritten
// by the error boundary.
const publicErrors = new WeakSet<ConnectError>();

function details(reason: string, facts: ErrorFacts) {
  const info = {
    desc: googleRpc.ErrorInfoSchema,
    value: { reason, domain: errorDomain, metadata: { ...facts.metadata } },
  };
  if (facts.retryAfterMs === undefined) return [info];
  const ms = Math.max(0, Math.round(facts.retryAfterMs));
  const retry = {
    desc: googleRpc.RetryInfoSchema,
    value: { retryDelay: { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 } },
  };
  return [info, retry];
}

/**
 * Creates an error meant for the caller: code and message as given, plus google.rpc
 * ErrorInfo (reason, domain "toolmesh", metadata) and, with `retryAfterMs`, RetryInfo.
 * Every protocol carries them (gRPC `grpc-status-details-bin`, Connect JSON `details`).
 */
export function createError(
  code: Code,
  reason: string,
  message: string,
  options: CreateErrorOptions = {},
): ConnectError {
  const error = new ConnectError(message, code, undefined, details(reason, options), options.cause);
  if (options.forCaller ?? true) publicErrors.add(error);
  return error;
}

/** The error of a reason of the error table, with its status and public message. */
export function errorFor(reason: ErrorReason, options: CreateErrorOptions = {}): ConnectError {
  const rule: ErrorRule = errorTable[reason];
  return createError(rule.code, reason, rule.message(options), options);
}

/** Creates an error whose code and message are meant for the caller; its reason is the code's name. */
export function publicError(code: Code, message: string): ConnectError {
  return createError(code, canonicalCodeName(code), message);
}

/** True for errors created here ({@link createError}, {@link errorFor}, {@link publicError}). */
export function isPublicError(error: unknown): error is ConnectError {
  return error instanceof ConnectError && publicErrors.has(error);
}

/**
 * The typed details of an error, whether raised here or received from a peer; undefined
 * when it carries neither ErrorInfo nor RetryInfo. Read reasons and retry hints here,
 * never out of the message.
 */
export function readErrorInfo(error: unknown): ErrorInfoView | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  const [info] = error.findDetails(googleRpc.ErrorInfoSchema);
  const [retry] = error.findDetails(googleRpc.RetryInfoSchema);
  if (!info && !retry) return undefined;
  const delay = retry?.retryDelay;
  return {
    reason: info?.reason ?? '',
    domain: info?.domain ?? '',
    metadata: { ...info?.metadata },
    ...(delay ? { retryAfterMs: Number(delay.seconds) * 1000 + Math.round(delay.nanos / 1_000_000) } : {}),
  };
}

/** Adds ErrorInfo with the code's name as reason to an error that has none (so every status has one). */
export function withErrorInfo(error: ConnectError): ConnectError {
  if (error.findDetails(googleRpc.ErrorInfoSchema).length === 0) {
    error.details.push(...details(canonicalCodeName(error.code), {}));
  }
  return error;
}
