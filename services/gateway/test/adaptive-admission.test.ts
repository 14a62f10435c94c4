// The gateway's turn admission with its adaptive bound, in process on a manual clock: turns
// whose latency grows shrink the bound, and a turn beyond the shrunk bound is refused at once
// with RESOURCE_EXHAUSTED, reason OVERLOADED and a retry hint, before its handler runs.
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { createAdmissionLimiter } from '@toolmesh/limits';
import { ChatService } from '@toolmesh/proto';
import { createAdmissionInterceptor, readErrorInfo } from '@toolmesh/rpc';

const clock = createManualClock();
const admission = createAdmissionLimiter({ limit: 16, adaptive: { minLimit: 2 }, clock });
const interceptor = createAdmissionInterceptor({
  admission,
  admits: (service) => service === ChatService.typeName,
  service: 'gateway',
});

// A Chat through the interceptor; its handler answers when the test says so, or fails with `error`.
function chat(): { done: Promise<unknown>; reached: () => boolean; answer: (error?: Error) => void } {
  let reached = false;
  let answer: (error?: Error) => void = () => {};
  const handler = () => {
    reached = true;
    return new Promise((resolve, reject) => {
      answer = (error) => (error ? reject(error) : resolve({ stream: false, message: {} }));
    });
  };
  const req = {
    service: ChatService,
    method: ChatService.method.chat,
    signal: new AbortController().signal,
  };
  const done = (interceptor(handler as never) as (r: unknown) => Promise<unknown>)(req);
  done.catch(() => {});
  return { done, reached: () => reached, answer: (error) => answer(error) };
}

// `n` chats at once, each answered after `ms` (or failed with `error`).
async function turns(n: number, ms: number, error?: Error) {
  const chats = Array.from({ length: n }, chat);
  await clock.advance(ms);
  for (const c of chats) c.answer(error);
  await Promise.allSettled(chats.map((c) => c.done));
}

test('turns that get slower under load shrink the bound; the next turn beyond it is refused with OVERLOADED', async () => {
  // 2 s of turns that take 100 ms, 16 at once: the baseline; the bound stays at its ceiling.
  for (let i = 0; i < 20; i++) await turns(16, 100);
  expect(admission.limit).toBe(16);
  // The same 16 now take 2 s: a queue. The bound comes down.
  for (let i = 0; i < 5; i++) await turns(admission.limit, 2_000);
  const bound = admission.limit;
  expect(bound).toBeLessThan(16);
  expect(bound).toBeGreaterThanOrEqual(2);

  const held = Array.from({ length: bound }, chat);
  const refused = chat();
  const error = await refused.done.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(refused.reached()).toBe(false);
  expect(error?.code).toBe(Code.ResourceExhausted);
  const info = readErrorInfo(error);
  expect(info?.reason).toBe('OVERLOADED');
  expect(info?.metadata).toEqual({ service: 'gateway' });
  expect(info?.retryAfterMs).toBeGreaterThan(0);
  for (const c of held) c.answer();
  await Promise.all(held.map((c) => c.done));

  // Turns back at 100 ms: the bound grows back to its ceiling.
  for (let i = 0; i < 300 && admission.limit < 16; i++) await turns(admission.limit, 100);
  expect(admission.limit).toBe(16);
});

test('a deadline passed further in shrinks the bound; a failed turn does not', async () => {
  for (let i = 0; i < 20; i++) await turns(16, 100);
  expect(admission.limit).toBe(16);
  for (let i = 0; i < 20; i++) await turns(16, 100, new ConnectError('bad request', Code.InvalidArgument));
  expect(admission.limit).toBe(16);
  for (let i = 0; i < 20; i++)
    await turns(admission.limit, 100, new ConnectError('late', Code.DeadlineExceeded));
  expect(admission.limit).toBeLessThan(16);
});
