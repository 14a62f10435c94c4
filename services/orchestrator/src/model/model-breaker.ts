import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleType } from 'cockatiel';
import { type ModelClient, ModelUnavailableError } from './model-client.ts';

/** Options of {@link withModelBreaker}. */
export interface ModelBreakerOptions {
  /** Consecutive failed model calls (after the SDK's own retries) that open the breaker; default 5. */
  failureThreshold: number;
  /** How long the open breaker answers at once before one trial call; default 10 s. */
  halfOpenAfterMs: number;
  /** Hears state changes (logs, metrics). */
  onStateChange?: (state: 'closed' | 'open' | 'half-open') => void;
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
 */
export function withModelBreaker(client: ModelClient, options: ModelBreakerOptions): ModelClient {
  const breaker = circuitBreaker(handleType(ModelUnavailableError), {
    breaker: new ConsecutiveBreaker(options.failureThreshold),
    halfOpenAfter: options.halfOpenAfterMs,
  });
  let openedAt = 0;
  breaker.onStateChange((state) => {
    if (state === CircuitState.Open) openedAt = Date.now();
    options.onStateChange?.(
      state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half-open' : 'open',
    );
  });
  return {
    async complete(request) {
      try {
        return await breaker.execute(() => client.complete(request));
      } catch (error) {
        if (error instanceof BrokenCircuitError) {
          throw new ModelCircuitOpenError(Math.max(0, openedAt + options.halfOpenAfterMs - Date.now()));
        }
        throw error;
      }
    },
  };
}
