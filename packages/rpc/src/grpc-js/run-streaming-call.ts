import { create, type DescMessage, isMessage, type MessageInitShape } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
} from '@connectrpc/connect';

type AnyStreamRequest = StreamRequest<DescMessage, DescMessage>;
type AnyStreamResponse = StreamResponse<DescMessage, DescMessage>;
type StreamFn = (req: AnyStreamRequest) => Promise<AnyStreamResponse>;

/** Options of {@link runStreamingCall}: those of connect's `runStreamingCall` (@connectrpc/connect/protocol). */
export interface RunStreamingCallOptions {
  req: Omit<AnyStreamRequest, 'signal' | 'message'> & {
    message: AsyncIterable<MessageInitShape<DescMessage>>;
  };
  next: StreamFn;
  timeoutMs?: number;
  signal?: AbortSignal;
  interceptors: readonly Interceptor[];
}

// The reason a finished call's signal carries (connect's aborts without one: a DOMException
// with its stack trace per call).
const finished = new ConnectError('the call has ended', Code.Canceled);

/** The request messages, each made a full message of `desc` as it is read (connect's normalizeIterable). */
function normalized(
  desc: DescMessage,
  input: AsyncIterable<MessageInitShape<DescMessage>>,
): AsyncIterable<DescMessage['field']> {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const message of input) yield isMessage(message, desc) ? message : create(desc, message);
    },
  } as AsyncIterable<never>;
}

/**
 * The state of one streaming call: its signal, deadline and the caller's signal it follows,
 * in one object whose methods are shared, instead of connect's two AbortControllers, linked
 * listeners and closures per call. Every open server stream holds one of these for its whole
 * life (a ChatStream waiting on the model holds it for minutes), so what it keeps is counted
 * once per open stream: 10,000 of them are the gateway's budget.
 */
class StreamingCall {
  readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly outer: AbortSignal | undefined;
  private readonly request: AsyncIterable<unknown>;
  private over = false;

  constructor(options: RunStreamingCallOptions) {
    this.outer = options.signal;
    this.request = options.req.message;
    if (this.outer?.aborted) this.handleEvent();
    else this.outer?.addEventListener('abort', this);
    if (options.timeoutMs !== undefined && !this.controller.signal.aborted) {
      if (options.timeoutMs <= 0) this.expire();
      else this.timer = setTimeout(StreamingCall.expire, options.timeoutMs, this);
    }
  }

  private static expire(call: StreamingCall) {
    call.expire();
  }

  private expire() {
    this.end(new ConnectError('the operation timed out', Code.DeadlineExceeded));
  }

  /** The caller's signal aborted (an EventListener object: no closure per call). */
  handleEvent() {
    this.end(ConnectError.from(this.outer?.reason ?? 'aborted', Code.Canceled));
  }

  /** Ends the call: `reason` is its signal's. The request stream hears of it, as connect's does. */
  end(reason: unknown) {
    if (this.over) return;
    this.over = true;
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this);
    this.controller.abort(reason);
    if (reason === finished) return;
    // No longer read: the request stream may let go of what it holds.
    const it = this.request[Symbol.asyncIterator]();
    it.throw?.(reason).catch(() => {});
    it.return?.().catch(() => {});
  }

  /** The error a failed call ends with: after an abort, the abort's reason. */
  fail(reason: unknown): ConnectError {
    const signal = this.controller.signal;
    const error = signal.aborted
      ? ConnectError.from(signal.reason, Code.Canceled)
      : ConnectError.from(reason);
    this.end(error);
    return error;
  }
}

/** The response messages of a call: its end (or failure) ends the call's signal and timer. */
class CallMessages implements AsyncIterable<unknown>, AsyncIterator<unknown> {
  private it: AsyncIterator<unknown> | undefined;
  private readonly call: StreamingCall;
  private readonly source: AsyncIterable<unknown>;
  constructor(call: StreamingCall, source: AsyncIterable<unknown>) {
    this.call = call;
    this.source = source;
  }

  [Symbol.asyncIterator]() {
    this.it ??= this.source[Symbol.asyncIterator]();
    return this;
  }

  async next(): Promise<IteratorResult<unknown>> {
    const { call } = this;
    const signal = call.controller.signal;
    // Aborted (cancelled, deadline) before the end: the reason is the call's error.
    if (signal.aborted && signal.reason !== finished) throw call.fail(signal.reason);
    this.it ??= this.source[Symbol.asyncIterator]();
    let result: IteratorResult<unknown>;
    try {
      result = await this.it.next();
    } catch (error) {
      throw call.fail(error);
    }
    if (result.done) call.end(finished);
    return result;
  }
  // Like connect's: no throw/return (a reader that stops early cancels with its signal).
}

/**
 * connect's `runStreamingCall`, same contract: the interceptors (first given outermost) around
 * `next`, the request messages normalized, one signal for the call that aborts with the
 * caller's signal (CANCELED, or the caller's ConnectError), with DEADLINE_EXCEEDED at
 * `timeoutMs`, and once the call is over; the response's messages end the call when they end,
 * and a failure is a ConnectError (after an abort, the abort's reason).
 */
export function runStreamingCall(options: RunStreamingCallOptions): Promise<AnyStreamResponse> {
  let next = options.next;
  for (let i = options.interceptors.length - 1; i >= 0; i--) {
    next = (options.interceptors[i] as Interceptor)(next as never) as StreamFn;
  }
  const call = new StreamingCall(options);
  const req = {
    ...options.req,
    message: normalized(options.req.method.input, options.req.message),
    signal: call.controller.signal,
  } as AnyStreamRequest;
  return next(req).then(
    (res) => ({ ...res, message: new CallMessages(call, res.message) }) as AnyStreamResponse,
    (reason: unknown) => {
      throw call.fail(reason);
    },
  );
}
