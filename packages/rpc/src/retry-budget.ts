/** Options of {@link createRetryBudget}. */
export interface RetryBudgetOptions {
  /** Retries earned per first attempt; default 0.2 (retries add at most 20% load). */
  ratio: number;
  /** Retries always allowed per second, so a quiet system can still retry; default 5. */
  minPerSecond: number;
}

/** Bounds retries to a share of traffic, like Envoy's and Finagle's retry budgets. */
export interface RetryBudget {
  /** Records a first attempt. */
  deposit(): void;
  /** Takes one retry; false when the budget is spent (an outage must not be amplified). */
  withdraw(): boolean;
}

/** Creates a {@link RetryBudget}. */
export function createRetryBudget(
  options: RetryBudgetOptions = { ratio: 0.2, minPerSecond: 5 },
): RetryBudget {
  const cap = Math.max(10, options.minPerSecond * 10);
  let tokens = cap;
  let last = Date.now();
  const refill = () => {
    const now = Date.now();
    tokens = Math.min(cap, tokens + ((now - last) / 1000) * options.minPerSecond);
    last = now;
  };
  return {
    deposit() {
      refill();
      tokens = Math.min(cap, tokens + options.ratio);
    },
    withdraw() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
