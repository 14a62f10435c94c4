// The admission interceptor tells its bound how each admitted call ended, so an adaptive bound
// learns only from what says something about load: an answer (its latency), a refusal further
// in or a deadline passed (overloaded), anything else (ignored). In process, no network.
import { Code, ConnectError } from '@connectrpc/connect';
import { ChatService } from '@toolmesh/proto';
import { createAdmissionInterceptor, errorFor } from '../src/index.ts';

type Outcome = 'succeeded' | 'overloaded' | 'failed';
const outcomes: Outcome[] = [];
const interceptor = createAdmissionInterceptor({
  admission: {
    tryAdmit: () => (outcome) => outcomes.push(outcome),
    full: () => false,
    shedIfFull: () => false,
    retryAfterMs: () => 100,
  },
  admits: () => true,
  service: 'gateway',
});

const call = (
  method: typeof ChatService.method.chat | typeof ChatService.method.chatStream,
  next: () => Promise<unknown>,
  signal = new AbortController().signal,
) =>
  (interceptor(next as never) as (req: unknown) => Promise<{ message: unknown }>)({
    service: ChatService,
    method,
    signal,
  });

async function* messages(error?: Error) {
  yield {};
  if (error) throw error;
}

beforeEach(() => {
  outcomes.length = 0;
});

test('a unary call: answered, refused further in, past its deadline, failed otherwise', async () => {
  const unary = ChatService.method.chat;
  await call(unary, async () => ({ stream: false, message: {} }));
  for (const error of [
    errorFor('OVERLOADED', { retryAfterMs: 10, metadata: { service: 'orchestrator' } }),
    new ConnectError('late', Code.DeadlineExceeded),
    new ConnectError('bad', Code.InvalidArgument),
    new Error('bug'),
  ]) {
    await expect(
      call(unary, async () => {
        throw error;
      }),
    ).rejects.toBe(error);
  }
  expect(outcomes).toEqual(['succeeded', 'overloaded', 'overloaded', 'failed', 'failed']);
});

test('a server stream: its end decides, and a caller that goes away teaches nothing', async () => {
  const stream = ChatService.method.chatStream;
  const drain = async (res: { message: unknown }) => {
    for await (const _ of res.message as AsyncIterable<unknown>) {
      // read to the end
    }
  };
  await drain(await call(stream, async () => ({ stream: true, message: messages() })));
  const late = new ConnectError('late', Code.DeadlineExceeded);
  await expect(
    drain(await call(stream, async () => ({ stream: true, message: messages(late) }))),
  ).rejects.toBe(late);
  const caller = new AbortController();
  await call(stream, async () => ({ stream: true, message: messages() }), caller.signal);
  caller.abort(new ConnectError('gone', Code.Canceled));
  expect(outcomes).toEqual(['succeeded', 'overloaded', 'failed']);
});
