import { type Clock, systemClock } from '@toolmesh/clock';

/** Options of {@link createRetryBudget}. */
export interface RetryBudgetOptions {
  /** Retries earned per first attempt; default 0.2 (retries add at most 20% load). */
  ratio?: number;
  /** Retries always allowed per second, so a quiet system can still retry; default 5. */
  minPerSecond?: number;
  /** Time for the per-second allowance; default the system clock. */
  clock?: Clock;
}

/** Bounds retries to a share of traffic, like Envoy's and Finagle's retry budgets. */
export interface RetryBudget {
  /** Records a first attempt. */
  deposit(): void;
  /** Takes one retry; false when the budget is spent (an outage must not be amplified). */
  withdraw(): boolean;
}

/** Creates a {@link RetryBudget}. */
export function createRetryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  const ratio = options.ratio ?? 0.2;
  const minPerSecond = options.minPerSecond ?? 5;
  const clock = options.clock ?? systemClock;
  const cap = Math.max(10, minPerSecond * 10);
  let tokens = cap;
  let last = clock.now();
  const refill = () => {
    const now = clock.now();
    tokens = Math.min(cap, tokens + ((now - last) / 1000) * minPerSecond);
    last = now;
  };
  return {
    deposit() {
      refill();
      tokens = Math.min(cap, tokens + ratio);
    },
    withdraw() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
