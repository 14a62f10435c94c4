import { type Clock, systemClock } from '@toolmesh/clock';
import { type ModelClient, ModelUnavailableError } from './model-client.ts';

/** Options of {@link withModelBreaker}. */
export interface ModelBreakerOptions {
  /** Consecutive failed model calls (after the SDK's own retries) that open the breaker; default 5. */
  failureThreshold: number;
  /** How long the open breaker answers at once before one trial call; default 10 s. */
  halfOpenAfterMs: number;
  /** Hears state changes (logs, metrics). */
  onStateChange?: (state: 'closed' | 'open' | 'half-open') => void;
  /** When the open breaker may try again; default the system clock. */
  clock?: Clock;
}

/** The model is known to be down: answered at once, with when to try again. */
export class ModelCircuitOpenError extends ModelUnavailableError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super(new Error('model circuit open'));
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Wraps a model client in a circuit breaker. The openai SDK already retries
 * 429/5xx/timeouts with backoff and Retry-After; when even that keeps failing,
 * further chats fail at once instead of each spending its whole deadline on a
 * dead model. Cancelled calls do not count.
 *
 * Consecutive-failure breaker as cockatiel's (closed → open after the threshold →
 * one trial call once `halfOpenAfterMs` passed, others wait for its verdict), on
 * the injected clock so tests move time instead of waiting for it.
 */
export function withModelBreaker(client: ModelClient, options: ModelBreakerOptions): ModelClient {
  const clock = options.clock ?? systemClock;
  let state: 'closed' | 'open' | 'half-open' = 'closed';
  let failures = 0;
  let openedAt = 0;
  // Settles when the half-open trial has decided.
  let verdict: Promise<void> = Promise.resolve();

  const moveTo = (next: typeof state) => {
    state = next;
    if (next === 'open') openedAt = clock.now();
    if (next !== 'open') failures = 0;
    options.onStateChange?.(next);
  };

  async function trial(request: Parameters<ModelClient['complete']>[0]) {
    let decide = () => {};
    verdict = new Promise<void>((resolve) => {
      decide = resolve;
    });
    moveTo('half-open');
    try {
      const answer = await client.complete(request);
      moveTo('closed');
      return answer;
    } catch (error) {
      // Only a model failure reopens; anything else (a cancelled call) proves nothing against it.
      moveTo(error instanceof ModelUnavailableError ? 'open' : 'closed');
      throw error;
    } finally {
      decide();
    }
  }

  return {
    async complete(request) {
      for (;;) {
        if (state === 'half-open') {
          await verdict;
          continue;
        }
        if (state === 'open') {
          const wait = openedAt + options.halfOpenAfterMs - clock.now();
          if (wait > 0) throw new ModelCircuitOpenError(wait);
          return trial(request);
        }
        try {
          const answer = await client.complete(request);
          if (state === 'closed') failures = 0;
          return answer;
        } catch (error) {
          if (error instanceof ModelUnavailableError && state === 'closed') {
            failures++;
            if (failures >= options.failureThreshold) moveTo('open');
          }
          throw error;
        }
      }
    },
  };
}
