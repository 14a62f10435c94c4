import { type Clock, systemClock } from '@toolmesh/clock';
import { type CircuitBreaker, type CircuitState, createCircuitBreaker } from '@toolmesh/resilience';
import { isTransportFailure } from '../is-transport-failure.ts';
import { rendezvousRank } from './rendezvous-rank.ts';

/**
 * Where the replicas are: @toolmesh/discovery's Discovery has this shape (static list, DNS of a
 * headless Service, etcd), so the balancer follows whichever the service configured.
 */
export interface EndpointSource {
  endpoints(): readonly { readonly address: string }[];
  onChange(listener: (endpoints: readonly { readonly address: string }[]) => void): void;
}

/** One replica, with what talks to it and its own circuit breaker. */
export interface BalancedEndpoint<T> {
  readonly address: string;
  /** What calls it (e.g. a transport over one HTTP/2 connection); made once per address. */
  readonly connection: T;
  /** Opens after consecutive transport failures: the replica is ejected until its wait is over. */
  readonly breaker: CircuitBreaker;
  /** Calls in flight on it (least-loaded choice of calls without a key). */
  inFlight: number;
}

/** Options of {@link createEndpointBalancer}. */
export interface EndpointBalancerOptions<T> {
  source: EndpointSource;
  /** Makes what calls one replica, when it first appears. */
  connect: (address: string) => T;
  /** Consecutive transport failures that eject a replica; default 5. */
  failureThreshold?: number;
  /** How long an ejected replica is skipped before one trial call; default 5 s. */
  halfOpenAfterMs?: number;
  /** Which errors speak against the replica; default {@link isTransportFailure}. */
  isFailure?: (error: unknown) => boolean;
  /** Hears every breaker change ("closed" once when a replica appears). */
  onBreakerChange?: (address: string, state: CircuitState) => void;
  /** Hears a replica leaving the source (calls in flight on it finish). */
  onRemoved?: (address: string) => void;
  /**
   * Drops what called a replica that left the source (e.g. closes its connection; calls in
   * flight on it finish); default nothing, and an idle connection is closed by its own timeout.
   */
  close?: (connection: T) => void;
  /** Times the breakers; default the system clock. */
  clock?: Clock;
}

/** The replicas of one upstream and the choice among them; made by {@link createEndpointBalancer}. */
export interface EndpointBalancer<T> {
  /** Every replica the source knows, ejected ones too. */
  endpoints(): readonly BalancedEndpoint<T>[];
  /**
   * The replicas whose breaker lets a call through, best first. With a key: rendezvous order
   * over them, so calls with one key prefer one replica and move to the next only while it is
   * ejected or gone. Without: fewest calls in flight first, ties taken in turn.
   */
  candidates(key?: string): BalancedEndpoint<T>[];
  /** When no replica is available: milliseconds until the first ejected one may be tried. */
  retryAfterMs(): number;
}

/**
 * Keeps one breaker-guarded connection per replica the source reports (following its
 * changes) and answers which replicas to try for a call. It is the gateway's balancing over
 * orchestrator replicas; the same rules as the orchestrator's tool endpoints (eject on
 * consecutive transport failures, one trial after the wait).
 */
export function createEndpointBalancer<T>(options: EndpointBalancerOptions<T>): EndpointBalancer<T> {
  const clock = options.clock ?? systemClock;
  const byAddress = new Map<string, BalancedEndpoint<T>>();
  let list: BalancedEndpoint<T>[] = [];
  let turn = 0;

  const add = (address: string): BalancedEndpoint<T> => {
    // Others are refused during the trial, so their calls move to another replica at once.
    const breaker = createCircuitBreaker({
      failureThreshold: options.failureThreshold ?? 5,
      halfOpenAfterMs: options.halfOpenAfterMs ?? 5_000,
      clock,
      duringTrial: 'refuse',
      isFailure: options.isFailure ?? isTransportFailure,
    });
    options.onBreakerChange?.(address, 'closed');
    breaker.onStateChange((state) => options.onBreakerChange?.(address, state));
    return { address, connection: options.connect(address), breaker, inFlight: 0 };
  };
  const sync = (discovered: readonly { readonly address: string }[]) => {
    const wanted = new Set(discovered.map((e) => e.address));
    for (const [address, endpoint] of byAddress) {
      if (wanted.has(address)) continue;
      byAddress.delete(address);
      options.close?.(endpoint.connection);
      options.onRemoved?.(address);
    }
    for (const address of wanted) if (!byAddress.has(address)) byAddress.set(address, add(address));
    list = [...byAddress.values()];
  };
  sync(options.source.endpoints());
  options.source.onChange(sync);

  // An open breaker turns half-open only when a call tries it, so once its wait is over the
  // replica is a candidate again, for that trial.
  const available = (e: BalancedEndpoint<T>) => e.breaker.retryAfterMs() === 0;

  return {
    endpoints: () => list,
    candidates(key) {
      const open = list.filter(available);
      if (key) return rendezvousRank(key, open, (e) => e.address);
      const start = turn++ % Math.max(1, open.length);
      const rotated = [...open.slice(start), ...open.slice(0, start)];
      // Stable sort: equal loads keep the rotation, so idle replicas take turns.
      return rotated.sort((a, b) => a.inFlight - b.inFlight);
    },
    retryAfterMs: () => (list.length ? Math.min(...list.map((e) => e.breaker.retryAfterMs())) : 0),
  };
}
