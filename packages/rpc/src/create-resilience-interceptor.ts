import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  wrap,
} from 'cockatiel';
import { isUnsentError } from './is-unsent-error.ts';
import { createRetryBudget, type RetryBudget } from './retry-budget.ts';
import { isSanitizedError } from './sanitized-error.ts';

/** Options of {@link createResilienceInterceptor}. */
export interface ResilienceOptions {
  /** Attempts per unary call, the first included; default 3. */
  maxAttempts?: number;
  /** Consecutive transport failures that open the breaker; default 5. */
  failureThreshold?: number;
  /** How long the open breaker fails calls at once; default 2 s. */
  halfOpenAfterMs?: number;
  /** Shared budget so retries never amplify an outage; default 20% of traffic. */
  retryBudget?: RetryBudget;
}

// A failure of the hop itself, not an answer of the peer's error boundary.
const transportFailure = (error: unknown) =>
  isUnsentError(error) ||
  (error instanceof ConnectError &&
    !isSanitizedError(error) &&
    (error.code === Code.Unavailable || error.code === Code.DeadlineExceeded));

/**
 * Client-side resilience of one upstream: unary calls that never left this
 * process are retried with exponential backoff and jitter within a retry budget;
 * a circuit breaker over transport failures makes calls fail fast with
 * UNAVAILABLE while the upstream is down, then lets one trial call through.
 * Calls the peer answered, even with an error, never count as failures.
 */
export function createResilienceInterceptor(options: ResilienceOptions = {}): Interceptor {
  const budget = options.retryBudget ?? createRetryBudget();
  const breaker = circuitBreaker(handleWhen(transportFailure), {
    breaker: new ConsecutiveBreaker(options.failureThreshold ?? 5),
    halfOpenAfter: options.halfOpenAfterMs ?? 2_000,
  });
  const retryUnsent = retry(
    handleWhen((e) => isUnsentError(e) && budget.withdraw()),
    {
      maxAttempts: (options.maxAttempts ?? 3) - 1,
      backoff: new ExponentialBackoff({ initialDelay: 25, maxDelay: 500 }),
    },
  );
  const unary = wrap(retryUnsent, breaker);
  const rejectOpen = (error: unknown): never => {
    if (error instanceof BrokenCircuitError) {
      throw new ConnectError(
        'upstream unavailable (circuit open)',
        Code.Unavailable,
        undefined,
        undefined,
        error,
      );
    }
    throw error;
  };
  return (next) => async (req) => {
    if (req.stream) {
      // A stream's failures surface while it is read; only the open breaker is checked here.
      if (breaker.state === CircuitState.Open) rejectOpen(new BrokenCircuitError());
      return next(req);
    }
    budget.deposit();
    return unary.execute(() => next(req), req.signal).catch(rejectOpen);
  };
}
