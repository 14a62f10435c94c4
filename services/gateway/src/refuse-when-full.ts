import type { DescService } from '@bufbuild/protobuf';
import { type Admission, type ConnectError, type EarlyRefusal, overloadedError } from '@toolmesh/rpc';
import type { Authenticate } from './authenticate.ts';

/** Options of {@link refuseWhenFull}. */
export interface RefuseWhenFullOptions {
  /** The bound the admission interceptor holds calls of `service` to. */
  admission: Admission;
  /** The calls the bound applies to: every method of this service. */
  service: DescService;
  /** The gateway's own authentication, the one its auth interceptor runs. */
  authenticate: Authenticate;
  /** Names this tier in the refusal (ErrorInfo.metadata.service), as the interceptor does. */
  tier: string;
}

/**
 * The admission interceptor's refusal, answered before the call is parsed. Under overload most
 * calls are refused, and the whole per-call pipeline for each of them (body, context,
 * interceptors, tracing, an error's trip through the promise chain) took the CPU the admitted
 * ones needed and queued the refusals behind each other. While the bound is reached, a call of
 * the bound's service whose credential authenticates gets the interceptor's refusal (same
 * ErrorInfo, same retry hint, counted as shed) at once. Everything else takes the normal path:
 * a free slot (the interceptor takes it; a slot freed meanwhile is simply taken there), a missing
 * or refused credential (the auth interceptor answers UNAUTHENTICATED, so a caller learns
 * nothing about load without a valid credential), an authenticator that fails.
 */
export function refuseWhenFull(options: RefuseWhenFullOptions): EarlyRefusal {
  const { admission, authenticate, tier } = options;
  // Deep in overload the hint sits at its ceiling: the same refusal serves call after call, and
  // the server encodes it once (building an error and its details was a good part of the cost).
  let last: { retryAfterMs: number; error: ConnectError } | undefined;
  const refusal = () => {
    const retryAfterMs = admission.retryAfterMs();
    if (last?.retryAfterMs !== retryAfterMs)
      last = { retryAfterMs, error: overloadedError(retryAfterMs, tier) };
    return last.error;
  };
  return {
    methods: options.service.methods,
    refuse(headers) {
      // The common case while not overloaded: no work, the call goes on in the same tick.
      if (!admission.full()) return undefined;
      return authenticate(headers.authorization ?? null).then((principal) =>
        // Counted as shed only once it is refused, and only if the bound is still reached.
        principal && admission.shedIfFull() ? refusal() : undefined,
      );
    },
  };
}
