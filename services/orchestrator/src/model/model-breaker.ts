import type { Clock } from '@toolmesh/clock';
import { CircuitOpenError, type CircuitState, createCircuitBreaker } from '@toolmesh/resilience';
import { type ModelClient, ModelUnavailableError } from './model-client.ts';

/** Options of {@link withModelBreaker}. */
export interface ModelBreakerOptions {
  /** Consecutive failed model calls (after the SDK's own retries) that open the breaker; default 5. */
  failureThreshold: number;
  /** How long the open breaker answers at once before one trial call; default 10 s. */
  halfOpenAfterMs: number;
  /** Hears state changes (logs, metrics). */
  onStateChange?: (state: CircuitState) => void;
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
 * Consecutive failures open it; once `halfOpenAfterMs` passed one trial call goes
 * out and other chats wait for its verdict rather than being refused, since a
 * model that is back should answer them. Timed by the injected clock, so tests
 * move time instead of waiting for it.
 */
export function withModelBreaker(client: ModelClient, options: ModelBreakerOptions): ModelClient {
  const breaker = createCircuitBreaker({
    failureThreshold: options.failureThreshold,
    halfOpenAfterMs: options.halfOpenAfterMs,
    clock: options.clock,
    duringTrial: 'wait',
    // Only a model failure counts; anything else (a cancelled call) proves nothing against it.
    isFailure: (error) => error instanceof ModelUnavailableError,
  });
  if (options.onStateChange) breaker.onStateChange(options.onStateChange);
  return {
    async complete(request) {
      try {
        return await breaker.execute(() => client.complete(request));
      } catch (error) {
        if (error instanceof CircuitOpenError) throw new ModelCircuitOpenError(error.retryAfterMs);
        throw error;
      }
    },
  };
}
