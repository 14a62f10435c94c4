import type { StreamResponse, UnaryResponse } from '@connectrpc/connect';

type AnyRequest = { signal: AbortSignal };
type AnyResponse = UnaryResponse | StreamResponse;

/**
 * Runs the rest of a call (`next`) holding something taken for it — a slot, an open-stream
 * count — and gives it back exactly once when the call is over: when a unary call answers or
 * fails, when a server stream ends however it ends (completed, failed, cancelled), or when
 * the call's signal aborts, also if nobody ever reads the stream.
 */
export async function holdForCall<Res extends AnyResponse>(
  req: AnyRequest,
  next: () => Promise<Res>,
  release: () => void,
): Promise<Res> {
  let released = false;
  const releaseOnce = () => {
    if (released) return;
    released = true;
    req.signal.removeEventListener('abort', releaseOnce);
    release();
  };
  req.signal.addEventListener('abort', releaseOnce, { once: true });
  try {
    const res = await next();
    if (!res.stream) {
      releaseOnce();
      return res;
    }
    return { ...res, message: releaseAtEnd(res.message, releaseOnce) };
  } catch (error) {
    releaseOnce();
    throw error;
  }
}

async function* releaseAtEnd<T>(messages: AsyncIterable<T>, release: () => void): AsyncIterable<T> {
  try {
    yield* messages;
  } finally {
    release();
  }
}
