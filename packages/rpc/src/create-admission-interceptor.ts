import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import { errorFor, readErrorInfo } from './error-details.ts';
import { holdForCall } from './hold-for-call.ts';

/** A bound on work in flight (e.g. @toolmesh/limits' AdmissionLimiter). */
export interface Admission {
  /** A slot now (a function that gives it back), or undefined when the bound is reached. */
  tryAdmit(): (() => void) | undefined;
  /** When a refused caller may try again, in ms. */
  retryAfterMs(): number;
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
    if (!release) {
      throw errorFor('OVERLOADED', { retryAfterMs: admission.retryAfterMs(), metadata: { service } });
    }
    if (req.method.methodKind !== 'server_streaming') {
      try {
        return await next(req);
      } finally {
        release();
      }
    }
    return holdForCall(req, () => next(req), release);
  };
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
