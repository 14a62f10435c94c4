import { Code, ConnectError } from '@connectrpc/connect';
import { type Context, context } from '@toolmesh/telemetry';

/** Hooks of {@link observeStream}. */
export interface StreamObserver {
  /** Called for each message that passes. */
  onMessage?(): void;
  /** Called once: at the end of the stream, with its error, or when the reader stops early. */
  onEnd(error?: unknown): void;
  /** Runs every step of the source inside this context, e.g. the span of the call. */
  context?: Context;
  /**
   * The call's signal: its abort ends the stream as cancelled even when nobody reads on
   * (connect's client streams have no `return`, so a reader that stops says nothing).
   */
  signal?: AbortSignal;
}

// A reader that stops before the end (the peer went away) ended the call as cancelled.
const closedEarly = new ConnectError('stream closed before its end', Code.Canceled);

/**
 * Passes a message stream through, telling the observer about each message and the end.
 * An async generator runs in the context of whoever pulls it, not of whoever created it,
 * so a given context is re-entered at each step: spans and the request id stay current
 * inside a streaming handler.
 */
export function observeStream<T>(source: AsyncIterable<T>, observer: StreamObserver): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => new ObservedIterator(source, observer) };
}

/**
 * The iterator of {@link observeStream}: one object with shared methods (it is its signal's
 * listener too), not a set of closures, as every open stream holds two (server and client
 * tracing) for its whole life.
 */
class ObservedIterator<T> implements AsyncIterator<T> {
  private readonly it: AsyncIterator<T>;
  private readonly observer: StreamObserver;
  private ended = false;

  constructor(source: AsyncIterable<T>, observer: StreamObserver) {
    this.observer = observer;
    const scope = observer.context;
    this.it = scope
      ? context.with(scope, () => source[Symbol.asyncIterator]())
      : source[Symbol.asyncIterator]();
    if (observer.signal?.aborted) this.handleEvent();
    else observer.signal?.addEventListener('abort', this, { once: true });
  }

  private run<R>(fn: (it: AsyncIterator<T>) => R): R {
    const scope = this.observer.context;
    return scope ? context.with(scope, fn, undefined, this.it) : fn(this.it);
  }

  /** The call's signal aborted: the reason tells a deadline (DeadlineExceeded) from a cancellation. */
  handleEvent() {
    this.end(this.observer.signal?.reason ?? closedEarly);
  }

  private end(error?: unknown) {
    if (this.ended) return;
    this.ended = true;
    this.observer.signal?.removeEventListener('abort', this);
    this.observer.onEnd(error);
  }

  async next(): Promise<IteratorResult<T>> {
    try {
      const result = await this.run((it) => it.next());
      if (result.done) this.end();
      else this.observer.onMessage?.();
      return result;
    } catch (error) {
      this.end(error);
      throw error;
    }
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    this.end(closedEarly);
    const result = await this.run((it) => it.return?.(value));
    return result ?? { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    this.end(error);
    if (!this.it.throw) throw error;
    return this.run((it) => it.throw?.(error) as Promise<IteratorResult<T>>);
  }
}
