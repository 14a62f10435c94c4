import { create, type DescMessage, isMessage, type MessageInitShape } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from '@connectrpc/connect';

type UnaryFn = (
  req: UnaryRequest<DescMessage, DescMessage>,
) => Promise<UnaryResponse<DescMessage, DescMessage>>;

/** Options of {@link runUnaryCall}: those of connect's `runUnaryCall` (@connectrpc/connect/protocol). */
export interface RunUnaryCallOptions {
  req: Omit<UnaryRequest<DescMessage, DescMessage>, 'signal' | 'message'> & {
    message: MessageInitShape<DescMessage>;
  };
  next: UnaryFn;
  timeoutMs?: number;
  signal?: AbortSignal;
  interceptors: readonly Interceptor[];
}

// The reason a finished call's signal carries. connect's runUnaryCall aborts it without one,
// so Node builds a DOMException, stack trace and all, for every call: ~6 % of a client's CPU
// in the tool-hop benchmark's profile, for a signal nobody reads once the call is over.
const finished = new ConnectError('the call has ended', Code.Canceled);

/**
 * connect's `runUnaryCall`, same contract: the interceptors (first given outermost) around
 * `next`, the request message normalized, one signal for the call that aborts with the caller's
 * signal (CANCELED, or the caller's ConnectError), with DEADLINE_EXCEEDED at `timeoutMs`, and
 * once the call is over (so listeners let go). A failure is a ConnectError; after an abort it
 * is the abort's reason. One AbortController per call instead of two, and no DOMException.
 */
export function runUnaryCall(options: RunUnaryCallOptions): Promise<UnaryResponse<DescMessage, DescMessage>> {
  let next = options.next;
  for (let i = options.interceptors.length - 1; i >= 0; i--) {
    next = (options.interceptors[i] as Interceptor)(next as never) as UnaryFn;
  }
  const controller = new AbortController();
  const signal = controller.signal;
  const outer = options.signal;
  const onOuterAbort = () => controller.abort(ConnectError.from(outer?.reason ?? 'aborted', Code.Canceled));
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort);
  const expire = () => controller.abort(new ConnectError('the operation timed out', Code.DeadlineExceeded));
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (options.timeoutMs !== undefined) {
    if (options.timeoutMs <= 0) expire();
    else timer = setTimeout(expire, options.timeoutMs);
  }
  const end = (reason: unknown) => {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
    controller.abort(reason);
  };
  const { input } = options.req.method;
  const message = options.req.message;
  const req = {
    ...options.req,
    message: isMessage(message, input) ? message : create(input, message),
    signal,
  } as UnaryRequest<DescMessage, DescMessage>;
  return next(req).then(
    (res) => {
      end(finished);
      return res;
    },
    (reason: unknown) => {
      // Aborted (by the caller or the deadline): the abort's reason is the call's error.
      const error = signal.aborted
        ? ConnectError.from(signal.reason, Code.Canceled)
        : ConnectError.from(reason);
      end(error);
      throw error;
    },
  );
}
