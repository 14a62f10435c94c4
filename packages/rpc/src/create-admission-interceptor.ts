import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { errorFor, readErrorInfo } from './error-details.ts';
import { type CallEnd, holdForCall } from './hold-for-call.ts';

/** A bound on work in flight (e.g. @toolmesh/limits' AdmissionLimiter). */
export interface Admission {
  /**
   * A slot now, or undefined when the bound is reached. The slot is given back with how the
   * call ended, for a bound that learns from it: `succeeded`, `overloaded` (refused further in
   * or past its deadline) or `failed` (anything else).
   */
  tryAdmit(): ((outcome: 'succeeded' | 'overloaded' | 'failed') => void) | undefined;
  /**
   * True when `tryAdmit` would refuse now; takes no slot and counts nothing. Lets a server refuse
   * before reading a request (createServer's `earlyRefusal`); `tryAdmit` stays the authority.
   */
  full(): boolean;
  /** Counts a refusal made without `tryAdmit` if the bound is still reached (true), else nothing (false). */
  shedIfFull(): boolean;
  /** When a refused caller may try again, in ms. */
  retryAfterMs(): number;
}

/**
 * The refusal of a caller that found the bound reached: RESOURCE_EXHAUSTED, reason OVERLOADED,
 * `service` (the tier) as its only metadata and the retry hint. One builder, so a refusal made
 * before the interceptors (an early refusal) says exactly what the interceptor says.
 */
export function overloadedError(retryAfterMs: number, service: string): ConnectError {
  return errorFor('OVERLOADED', { retryAfterMs, metadata: { service } });
}

/** Options of {@link createAdmissionInterceptor}. */
export interface AdmissionInterceptorOptions {
  admission: Admission;
  /** Which calls need a slot, by service and method name; the others (health, reflection, listings) always pass. */
  admits: (service: string, method: string) => boolean;
  /** Names this tier in the refusal (ErrorInfo.metadata.service), e.g. "gateway". */
  service: string;
}

/**
 * Sheds load: a call that needs a slot and finds none ends at once with RESOURCE_EXHAUSTED,
 * reason OVERLOADED and a RetryInfo, before its handler runs, instead of waiting in a queue
 * that would add its wait to every call behind it. A unary call holds its slot until it
 * answers, a server stream until it ends (however it ends: completed, failed, cancelled).
 * The refusal says nothing of who else is in flight: only this tier's name and when to retry.
 * Put it after authentication, so an unauthenticated caller learns nothing about load.
 */
export function createAdmissionInterceptor(options: AdmissionInterceptorOptions): Interceptor {
  const { admission, admits, service } = options;
  return (next) => async (req) => {
    if (!admits(req.service.typeName, req.method.name)) return next(req);
    const release = admission.tryAdmit();
    if (!release) throw overloadedError(admission.retryAfterMs(), service);
    if (req.method.methodKind !== 'server_streaming') {
      try {
        const res = await next(req);
        release('succeeded');
        return res;
      } catch (error) {
        release(outcomeOf({ ok: false, error }));
        throw error;
      }
    }
    return holdForCall(
      req,
      () => next(req),
      (end) => release(outcomeOf(end)),
    );
  };
}

// What a call's end tells a bound about load: a refusal further in or a deadline passed means
// too much in flight; a cancelled caller or a failed call says nothing about it.
function outcomeOf(end: CallEnd): 'succeeded' | 'overloaded' | 'failed' {
  if (end.ok) return 'succeeded';
  if (isOverloadedError(end.error)) return 'overloaded';
  if (end.error instanceof ConnectError && end.error.code === Code.DeadlineExceeded) return 'overloaded';
  return 'failed';
}

/**
 * True for a peer's OVERLOADED refusal: it was refused before any work, so sending the same
 * call to another replica cannot do anything twice. It says nothing about the replica's
 * health, so it never counts against the replica's breaker.
 */
export function isOverloadedError(error: unknown): boolean {
  return (
    error instanceof ConnectError &&
    error.code === Code.ResourceExhausted &&
    readErrorInfo(error)?.reason === 'OVERLOADED'
  );
}
