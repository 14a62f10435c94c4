import { type Clock, systemClock } from '@toolmesh/clock';

/** Where a breaker stands, as operators, logs and metrics name it. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** Options of {@link createCircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker; default 5. */
  failureThreshold?: number;
  /** How long the open breaker refuses at once before it lets one trial call through; default 5 s. */
  halfOpenAfterMs?: number;
  /** Times the open breaker's wait; default the system clock. */
  clock?: Clock;
  /**
   * What other calls do while the one trial call runs: `'refuse'` (default) fails them at
   * once with {@link CircuitOpenError}; `'wait'` holds them until the trial's verdict, then
   * lets them through (closed) or refuses them (open again).
   */
  duringTrial?: 'wait' | 'refuse';
  /**
   * Whether an error the call threw speaks against the dependency; default every error.
   * Others (a cancelled call, an answer the peer refused) never count: in the closed breaker
   * they neither add to nor reset the count, and a trial ending in one closes the breaker,
   * since nothing showed the dependency down.
   */
  isFailure?: (error: unknown) => boolean;
}

/** A consecutive-failure circuit breaker made by {@link createCircuitBreaker}. */
export interface CircuitBreaker {
  /**
   * Runs `fn` through the breaker. Open, it throws {@link CircuitOpenError} without
   * calling `fn`; once the wait is over the next call is the one trial.
   */
  execute<T>(fn: () => Promise<T>): Promise<T>;
  /** The state now. An open breaker stays `'open'` after its wait, until a call makes the trial. */
  state(): CircuitState;
  /** Milliseconds until an open breaker lets a trial through; 0 when it would now (or is not open). */
  retryAfterMs(): number;
  /** Hears every change of state; returns a function that stops listening. Listeners must not throw. */
  onStateChange(listener: (state: CircuitState) => void): () => void;
}

/** Raised by an open breaker instead of calling the dependency. */
export class CircuitOpenError extends Error {
  /** When the breaker lets a trial through; 0 while a trial is deciding. */
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super('circuit open');
    this.name = 'CircuitOpenError';
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * Creates a consecutive-failure circuit breaker on the injected clock: closed, it counts
 * failures in a row (a success resets the count); at `failureThreshold` it opens and
 * refuses every call for `halfOpenAfterMs`; then the next call is the one trial, whose
 * success closes it and whose failure opens it for another wait. Tests advance a manual
 * clock instead of waiting for the breaker.
 */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const clock = options.clock ?? systemClock;
  const threshold = options.failureThreshold ?? 5;
  const halfOpenAfterMs = options.halfOpenAfterMs ?? 5_000;
  const isFailure = options.isFailure ?? (() => true);
  const waitDuringTrial = options.duringTrial === 'wait';
  const listeners = new Set<(state: CircuitState) => void>();
  let state: CircuitState = 'closed';
  let failures = 0;
  let openedAt = 0;
  // Settles when the running trial has decided; undefined when none runs.
  let verdict: Promise<void> | undefined;

  const moveTo = (next: CircuitState) => {
    state = next;
    failures = 0;
    if (next === 'open') openedAt = clock.now();
    for (const listener of listeners) listener(next);
  };
  const retryAfterMs = () => (state === 'open' ? Math.max(0, openedAt + halfOpenAfterMs - clock.now()) : 0);

  async function trial<T>(fn: () => Promise<T>): Promise<T> {
    let decide = () => {};
    verdict = new Promise<void>((resolve) => {
      decide = resolve;
    });
    moveTo('half-open');
    try {
      const result = await fn();
      moveTo('closed');
      return result;
    } catch (error) {
      moveTo(isFailure(error) ? 'open' : 'closed');
      throw error;
    } finally {
      verdict = undefined;
      decide();
    }
  }

  return {
    async execute(fn) {
      for (;;) {
        if (state === 'half-open') {
          if (!waitDuringTrial || !verdict) throw new CircuitOpenError(0);
          await verdict;
          continue;
        }
        if (state === 'open') {
          const wait = retryAfterMs();
          if (wait > 0) throw new CircuitOpenError(wait);
          return trial(fn);
        }
        try {
          const result = await fn();
          // A call that started before the breaker opened proves nothing about now.
          if (state === 'closed') failures = 0;
          return result;
        } catch (error) {
          if (state === 'closed' && isFailure(error)) {
            failures++;
            if (failures >= threshold) moveTo('open');
          }
          throw error;
        }
      }
    },
    state: () => state,
    retryAfterMs,
    onStateChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
