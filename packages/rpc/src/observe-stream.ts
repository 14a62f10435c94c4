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
  const scope = observer.context;
  const run = <R>(fn: () => R): R => (scope ? context.with(scope, fn) : fn());
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      const it = run(() => source[Symbol.asyncIterator]());
      let ended = false;
      // The reason tells a deadline (DeadlineExceeded) from a cancellation.
      const onAbort = () => end(observer.signal?.reason ?? closedEarly);
      const end = (error?: unknown) => {
        if (ended) return;
        ended = true;
        observer.signal?.removeEventListener('abort', onAbort);
        observer.onEnd(error);
      };
      if (observer.signal?.aborted) onAbort();
      else observer.signal?.addEventListener('abort', onAbort, { once: true });
      return {
        async next() {
          try {
            const result = await run(() => it.next());
            if (result.done) end();
            else observer.onMessage?.();
            return result;
          } catch (error) {
            end(error);
            throw error;
          }
        },
        async return(value?: unknown) {
          end(closedEarly);
          const result = await run(() => it.return?.(value));
          return result ?? { done: true, value: undefined };
        },
        async throw(error?: unknown) {
          end(error);
          if (!it.throw) throw error;
          return run(() => it.throw?.(error) as Promise<IteratorResult<T>>);
        },
      };
    },
  };
}
