import type { StreamResponse, UnaryResponse } from '@connectrpc/connect';

type AnyRequest = { signal: AbortSignal };
type AnyResponse = UnaryResponse | StreamResponse;

/**
 * Runs the rest of a call (`next`) holding something taken for it — a slot, an open-stream
 * count — and gives it back exactly once when the call is over: when a unary call answers or
 * fails, when a server stream ends however it ends (completed, failed, cancelled), or when
 * the call's signal aborts, also if nobody ever reads the stream. `release` hears how the call
 * ended: `{ ok: true }`, or `{ ok: false, error }` with the error (the signal's reason on abort).
 */
export async function holdForCall<Res extends AnyResponse>(
  req: AnyRequest,
  next: () => Promise<Res>,
  release: (end: CallEnd) => void,
): Promise<Res> {
  const hold = new Hold(req.signal, release);
  try {
    const res = await next();
    if (!res.stream) {
      hold.release({ ok: true });
      return res;
    }
    return { ...res, message: hold.releaseAtEnd(res.message) };
  } catch (error) {
    hold.release({ ok: false, error });
    throw error;
  }
}

/** How a call held by {@link holdForCall} ended. */
export type CallEnd = { ok: true } | { ok: false; error: unknown };

const ok: CallEnd = { ok: true };

/**
 * What {@link holdForCall} keeps for one call: one object with shared methods (the signal's
 * listener, and the iterator of the stream's messages), not closures and an async generator,
 * since every open stream holds one per hold (the open-streams count, the turn admission)
 * for its whole life.
 */
class Hold<T> implements AsyncIterator<T> {
  private readonly signal: AbortSignal;
  private readonly onRelease: (end: CallEnd) => void;
  private released = false;
  private it: AsyncIterator<T> | undefined;
  private messages: AsyncIterable<T> | undefined;

  constructor(signal: AbortSignal, onRelease: (end: CallEnd) => void) {
    this.signal = signal;
    this.onRelease = onRelease;
    signal.addEventListener('abort', this, { once: true });
  }

  /** The call's signal aborted. */
  handleEvent() {
    this.release({ ok: false, error: this.signal.reason });
  }

  release(end: CallEnd) {
    if (this.released) return;
    this.released = true;
    this.signal.removeEventListener('abort', this);
    this.onRelease(end);
  }

  releaseAtEnd(messages: AsyncIterable<T>): AsyncIterable<T> {
    this.messages = messages;
    return { [Symbol.asyncIterator]: () => this };
  }

  async next(): Promise<IteratorResult<T>> {
    this.it ??= (this.messages as AsyncIterable<T>)[Symbol.asyncIterator]();
    let result: IteratorResult<T>;
    try {
      result = await this.it.next();
    } catch (error) {
      this.release({ ok: false, error });
      throw error;
    }
    if (result.done) this.release(ok);
    return result;
  }

  // A reader that stops early (the caller went away): the call is over as it stands.
  async return(value?: unknown): Promise<IteratorResult<T>> {
    this.release(ok);
    return (await this.it?.return?.(value)) ?? { done: true, value: undefined };
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    this.release({ ok: false, error });
    if (!this.it?.throw) throw error;
    return this.it.throw(error);
  }
}
