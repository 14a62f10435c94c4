import { type Client, Code, ConnectError } from '@connectrpc/connect';
import { type Clock, systemClock } from '@toolmesh/clock';
import { ToolService } from '@toolmesh/proto';
import { type CircuitBreaker, type CircuitState, createCircuitBreaker } from '@toolmesh/resilience';
import { createGrpcClient, type GrpcClientOptions } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';

/** One replica of a tool service, with its own circuit breaker. */
export interface ToolEndpoint {
  readonly address: string;
  readonly client: Client<typeof ToolService>;
  /** Opens after consecutive transport failures; lets one trial through after `halfOpenAfterMs`. */
  readonly breaker: CircuitBreaker;
  /** True while the breaker lets calls through (closed, half-open, or open with its wait over). */
  available(): boolean;
  /** Milliseconds until an open breaker tries again (0 when not open). */
  retryAfterMs(): number;
  state(): BreakerStateName;
}

/** Breaker states as operators and metrics name them. */
export type BreakerStateName = CircuitState;

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

// A caller that gave up (its chat cancelled) says nothing about the endpoint.
const cancelled = (error: unknown) => error instanceof ConnectError && error.code === Code.Canceled;

/**
 * Creates an endpoint. Only transport failures (unreachable, reset, deadline)
 * reach the breaker: a tool answering with a ToolError is a healthy endpoint,
 * and so is a call its caller cancelled. `clock` times the open breaker's wait.
 */
export function createToolEndpoint(
  address: string,
  policy: EndpointPolicyOptions,
  logger: Logger,
  observe: EndpointObservers = {},
  clock: Clock = systemClock,
  /** Mutual TLS: the settings, and the files every endpoint shares (read once, not per endpoint). */
  tls: Pick<GrpcClientOptions, 'tls' | 'tlsFiles'> = {},
): ToolEndpoint {
  // Others are refused during the trial, so the executor moves them to another replica.
  const breaker = createCircuitBreaker({
    failureThreshold: policy.failureThreshold,
    halfOpenAfterMs: policy.halfOpenAfterMs,
    clock,
    duringTrial: 'refuse',
    isFailure: (error) => !cancelled(error),
  });
  observe.onBreakerChange?.(address, 'closed');
  breaker.onStateChange((state) => {
    logger.warn({ address, state }, 'tool endpoint breaker changed state');
    observe.onBreakerChange?.(address, state);
  });
  return {
    address,
    client: createGrpcClient(ToolService, {
      address,
      defaultTimeoutMs: 30_000,
      metrics: observe.clientMetrics,
      ...tls,
    }),
    breaker,
    // An open breaker moves to half-open only when a call is tried through it, so
    // once its wait is over the endpoint counts as available again for that trial.
    available: () => breaker.retryAfterMs() === 0,
    retryAfterMs: () => breaker.retryAfterMs(),
    state: () => breaker.state(),
  };
}
