import type { Interceptor } from '@connectrpc/connect';
import { type Clock, systemClock } from '@toolmesh/clock';
import { CircuitOpenError, createCircuitBreaker, retryWithBackoff } from '@toolmesh/resilience';
import { errorFor } from './error-details.ts';
import { isTransportFailure } from './is-transport-failure.ts';
import { isUnsentError } from './is-unsent-error.ts';
import { createRetryBudget, type RetryBudget } from './retry-budget.ts';

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
  /** Times the backoff between attempts and the open breaker's wait; default the system clock. */
  clock?: Clock;
}

/**
 * Client-side resilience of one upstream: unary calls that never left this
 * process are retried with exponential backoff and jitter within a retry budget;
 * a circuit breaker over transport failures makes calls fail fast with
 * UNAVAILABLE (reason CIRCUIT_OPEN) while the upstream is down, then lets one trial
 * call through. Calls the peer answered, even with an error, never count as failures.
 */
export function createResilienceInterceptor(options: ResilienceOptions = {}): Interceptor {
  const clock = options.clock ?? systemClock;
  const budget = options.retryBudget ?? createRetryBudget({ clock });
  const maxAttempts = options.maxAttempts ?? 3;
  // Others are refused during the trial: a caller of a hop that is likely down should hear so at once.
  const breaker = createCircuitBreaker({
    failureThreshold: options.failureThreshold ?? 5,
    halfOpenAfterMs: options.halfOpenAfterMs ?? 2_000,
    clock,
    duringTrial: 'refuse',
    isFailure: isTransportFailure,
  });
  const rejectOpen = (error: unknown): never => {
    // Raised on this side of the hop: the caller's error boundary decides what its caller sees.
    if (error instanceof CircuitOpenError) throw errorFor('CIRCUIT_OPEN', { cause: error, forCaller: false });
    throw error;
  };
  return (next) => async (req) => {
    if (req.stream) {
      // A stream's failures surface while it is read; only the open breaker's wait is checked here.
      const wait = breaker.retryAfterMs();
      if (wait > 0) rejectOpen(new CircuitOpenError(wait));
      return next(req);
    }
    budget.deposit();
    // Backoff between attempts: exponential from 25 ms, capped at 500 ms, with full jitter.
    return retryWithBackoff(() => breaker.execute(() => next(req)), {
      maxAttempts,
      initialDelayMs: 25,
      maxDelayMs: 500,
      shouldRetry: (error) => isUnsentError(error) && budget.withdraw(),
      signal: req.signal,
      clock,
    }).catch(rejectOpen);
  };
}
