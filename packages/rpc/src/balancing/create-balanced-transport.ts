import type { DescMessage, DescMethod, MessageInitShape } from '@bufbuild/protobuf';
import type { Transport } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { type Clock, systemClock } from '@toolmesh/clock';
import { CircuitOpenError } from '@toolmesh/resilience';
import { isOverloadedError } from '../create-admission-interceptor.ts';
import { errorFor } from '../error-details.ts';
import { isUnsentError } from '../is-unsent-error.ts';
import { createRetryBudget, type RetryBudget } from '../retry-budget.ts';
import type { BalancedEndpoint, EndpointBalancer } from './create-endpoint-balancer.ts';

/** Which replica a call prefers: a key (e.g. the conversation id), or undefined for any. */
export type BalanceKey = (method: DescMethod, input: unknown) => string | undefined;

/** Options of {@link createBalancedTransport}. */
export interface BalancedTransportOptions {
  balancer: EndpointBalancer<Transport>;
  /** The call's key; default none (every call goes to the least loaded replica). */
  keyOf?: BalanceKey;
  /** Attempts per call, the first included; default 3. */
  maxAttempts?: number;
  /** Bounds retries to a share of traffic, so they never amplify an outage; default 20 %. */
  retryBudget?: RetryBudget;
  /** Times the backoff before a replica already tried is tried again; default the system clock. */
  clock?: Clock;
}

/**
 * The key of a message carrying a `conversation_id` (ChatRequest, ChatStreamRequest,
 * ConfirmRequest, …): turns of one conversation prefer one replica, so its lease rarely moves
 * and its cache stays warm. A message without one (a new conversation, a listing) has none.
 */
export const conversationKey: BalanceKey = (_method, input) => {
  const id = (input as { conversationId?: unknown } | null)?.conversationId;
  return typeof id === 'string' && id ? id : undefined;
};

// A retried call that found every replica tried waits a little before it tries one again.
const backoffMs = (retry: number) => Math.random() * Math.min(500, 25 * 2 ** retry);

/**
 * A connect Transport over the replicas of one upstream: each call (not each connection, as
 * HTTP/2 would pin it) picks a replica (see EndpointBalancer.candidates) and runs through that
 * replica's breaker. A call that never reached a server (refused connection, refused stream,
 * ejected replica) moves to the next replica at once — sending it again cannot do anything
 * twice; so does one a replica shed (OVERLOADED) while a replica not yet tried remains. One
 * that reached a server's handler is never repeated. Server streams are balanced when opened.
 */
export function createBalancedTransport(options: BalancedTransportOptions): Transport {
  const { balancer } = options;
  const keyOf = options.keyOf ?? (() => undefined);
  const maxAttempts = options.maxAttempts ?? 3;
  const clock = options.clock ?? systemClock;
  const budget = options.retryBudget ?? createRetryBudget({ clock });

  const run = async <R>(
    key: string | undefined,
    signal: AbortSignal | undefined,
    call: (endpoint: BalancedEndpoint<Transport>) => Promise<R>,
  ): Promise<R> => {
    budget.deposit();
    const tried = new Set<string>();
    let retries = 0;
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      const candidates = balancer.candidates(key);
      const endpoint = candidates.find((e) => !tried.has(e.address)) ?? candidates[0];
      if (!endpoint) {
        throw errorFor('CIRCUIT_OPEN', {
          retryAfterMs: balancer.retryAfterMs(),
          forCaller: false,
          metadata: { replicas: String(balancer.endpoints().length) },
        });
      }
      const again = tried.has(endpoint.address);
      if (again) {
        try {
          await clock.sleep(backoffMs(retries), signal);
        } catch {
          // Cancelled during the pause: the caller hears the failure it would have retried.
          throw lastError;
        }
      }
      tried.add(endpoint.address);
      endpoint.inFlight++;
      try {
        return await endpoint.breaker.execute(() => call(endpoint));
      } catch (error) {
        lastError = error;
        // A replica that shed the call ran nothing of it: another replica not tried yet may have
        // room (never the same one again: waiting here would queue the call at this tier).
        if (
          isOverloadedError(error) &&
          attempt < maxAttempts &&
          !signal?.aborted &&
          balancer.candidates(key).some((e) => !tried.has(e.address)) &&
          budget.withdraw()
        ) {
          retries++;
          continue;
        }
        // An ejected replica (or one whose trial runs) was not called: the next one is tried at once.
        const unsent = error instanceof CircuitOpenError || isUnsentError(error);
        if (!unsent || attempt >= maxAttempts || signal?.aborted) {
          if (error instanceof CircuitOpenError) {
            throw errorFor('CIRCUIT_OPEN', {
              retryAfterMs: error.retryAfterMs,
              forCaller: false,
              cause: error,
            });
          }
          throw error;
        }
        if (!(error instanceof CircuitOpenError)) {
          if (!budget.withdraw()) throw error;
          retries++;
        }
      } finally {
        endpoint.inFlight--;
      }
    }
  };

  return {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      return run(keyOf(method, input), signal, (e) =>
        e.connection.unary(method, signal, timeoutMs, header, input, contextValues),
      );
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      // A server stream sends one message: read it for the key, then send it on whichever replica.
      // Client and bidi streams are balanced without a key (their messages are not read ahead).
      let messages: AsyncIterable<MessageInitShape<DescMessage>> = input;
      let key: string | undefined;
      if (method.methodKind === 'server_streaming') {
        const read: MessageInitShape<DescMessage>[] = [];
        for await (const message of input) read.push(message);
        key = keyOf(method, read[0]);
        messages = { [Symbol.asyncIterator]: () => createAsyncIterable(read)[Symbol.asyncIterator]() };
      }
      return run(key, signal, async (e) => {
        const res = await e.connection.stream(
          method,
          signal,
          timeoutMs,
          header,
          messages as typeof input,
          contextValues,
        );
        // A replica that refuses a server stream (e.g. sheds it: OVERLOADED) answers in the
        // trailers, which only the first read sees: read one message ahead, so the refusal is this
        // attempt's failure and the call can move to another replica like a unary one.
        const iterator = res.message[Symbol.asyncIterator]();
        const head = method.methodKind === 'server_streaming' ? await iterator.next() : undefined;
        const rest = { [Symbol.asyncIterator]: () => iterator };
        // An open stream (a whole ChatStream turn) is load on its replica until it ends, is
        // cancelled, or is dropped unread: the least-loaded choice must count it that long.
        e.inFlight++;
        let done = false;
        const release = () => {
          if (done) return;
          done = true;
          e.inFlight--;
          signal?.removeEventListener('abort', release);
        };
        signal?.addEventListener('abort', release);
        return {
          ...res,
          message: (async function* () {
            try {
              if (head?.done) return;
              if (head) yield head.value;
              yield* rest;
            } finally {
              release();
            }
          })(),
        };
      });
    },
  };
}
