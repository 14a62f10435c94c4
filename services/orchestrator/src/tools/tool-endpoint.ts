import type { Client } from '@connectrpc/connect';
import { type Clock, systemClock } from '@toolmesh/clock';
import { ToolService } from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import {
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleAll,
} from 'cockatiel';

/** One replica of a tool service, with its own circuit breaker. */
export interface ToolEndpoint {
  readonly address: string;
  readonly client: Client<typeof ToolService>;
  /** Opens after consecutive transport failures; half-open after `halfOpenAfterMs`. */
  readonly breaker: CircuitBreakerPolicy;
  /** True while the breaker lets calls through (closed or half-open). */
  available(): boolean;
  /** Milliseconds until an open breaker tries again (0 when not open). */
  retryAfterMs(): number;
  state(): BreakerStateName;
}

/** Breaker states as operators and metrics name them. */
export type BreakerStateName = 'closed' | 'open' | 'half-open';

const stateNames: Record<CircuitState, BreakerStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'open',
};

/** Who watches the endpoints: metrics of the breaker and of the gRPC client. */
export interface EndpointObservers {
  /** Hears every breaker change ("closed" once at creation). */
  onBreakerChange?: (address: string, state: BreakerStateName) => void;
  /** Registry for the grpc_client_* series of the tool calls. */
  clientMetrics?: Registry;
}

/** Breaker settings of every endpoint. */
export interface EndpointPolicyOptions {
  /** Consecutive transport failures that open the breaker; default 5. */
  failureThreshold: number;
  /** How long an open breaker stays open before one trial call; default 5 s. */
  halfOpenAfterMs: number;
}

/**
 * Creates an endpoint. Only transport failures (unreachable, reset, deadline)
 * reach the breaker: a tool answering with a ToolError is a healthy endpoint.
 * `clock` times the wait an open breaker reports (cockatiel's own half-open
 * switch follows the wall clock).
 */
export function createToolEndpoint(
  address: string,
  policy: EndpointPolicyOptions,
  logger: Logger,
  observe: EndpointObservers = {},
  clock: Clock = systemClock,
): ToolEndpoint {
  const breaker = circuitBreaker(handleAll, {
    breaker: new ConsecutiveBreaker(policy.failureThreshold),
    halfOpenAfter: policy.halfOpenAfterMs,
  });
  let openedAt = 0;
  observe.onBreakerChange?.(address, 'closed');
  const retryAfterMs = () =>
    breaker.state === CircuitState.Open ? Math.max(0, openedAt + policy.halfOpenAfterMs - clock.now()) : 0;
  breaker.onStateChange((state) => {
    if (state === CircuitState.Open) openedAt = clock.now();
    logger.warn({ address, state: stateNames[state] }, 'tool endpoint breaker changed state');
    observe.onBreakerChange?.(address, stateNames[state]);
  });
  return {
    address,
    client: createGrpcClient(ToolService, {
      address,
      defaultTimeoutMs: 30_000,
      metrics: observe.clientMetrics,
    }),
    breaker,
    // An open breaker moves to half-open only when a call is tried through it, so
    // once its wait is over the endpoint counts as available again for that trial.
    available: () => breaker.state !== CircuitState.Isolated && retryAfterMs() === 0,
    retryAfterMs,
    state: () => stateNames[breaker.state],
  };
}
