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
  let released = false;
  const releaseOnce = (end: CallEnd) => {
    if (released) return;
    released = true;
    req.signal.removeEventListener('abort', onAbort);
    release(end);
  };
  const onAbort = () => releaseOnce({ ok: false, error: req.signal.reason });
  req.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const res = await next();
    if (!res.stream) {
      releaseOnce({ ok: true });
      return res;
    }
    return { ...res, message: releaseAtEnd(res.message, releaseOnce) };
  } catch (error) {
    releaseOnce({ ok: false, error });
    throw error;
  }
}

/** How a call held by {@link holdForCall} ended. */
export type CallEnd = { ok: true } | { ok: false; error: unknown };

async function* releaseAtEnd<T>(
  messages: AsyncIterable<T>,
  release: (end: CallEnd) => void,
): AsyncIterable<T> {
  let end: CallEnd = { ok: true };
  try {
    yield* messages;
  } catch (error) {
    end = { ok: false, error };
    throw error;
  } finally {
    release(end);
  }
}
