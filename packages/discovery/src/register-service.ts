import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { Lease } from 'etcd3';
import { type EtcdConnection, openEtcd, registrationPrefix } from './etcd-connection.ts';

/** Options of {@link registerService}. */
export interface RegisterServiceOptions extends EtcdConnection {
  /** Service name, e.g. "order". */
  service: string;
  /** host:port at which the orchestrator reaches this replica. */
  address: string;
  /** Names of the tools it serves (shown to operators). */
  tools?: readonly string[];
  /**
   * Lease TTL in seconds; default 10. A replica that dies without deregistering
   * disappears from discovery after at most this long.
   */
  ttlSeconds?: number;
  /** Hears registration failures; registration keeps retrying in the background. */
  onError?: (error: unknown) => void;
  /** Retry interval while etcd is unreachable; default 1 s. */
  retryMs?: number;
  /** Times the retries and the registration date; default the system clock. */
  clock?: Clock;
}

/** A live registration. */
export interface Registration {
  /** The key the replica is registered under. */
  readonly key: string;
  /** True while etcd holds the key under a live lease. */
  registered(): boolean;
  /** Removes the key at once (revokes the lease) and closes the client. */
  deregister(): Promise<void>;
}

/**
 * Registers a replica under a lease with keep-alive. If the lease is lost (etcd
 * restarted or unreachable longer than the TTL) a new one is granted and the key
 * written again, so a replica re-appears by itself once etcd is back. Resolves
 * after the first attempt; a replica must serve even while etcd is down.
 */
export async function registerService(options: RegisterServiceOptions): Promise<Registration> {
  const clock = options.clock ?? systemClock;
  const client = openEtcd(options);
  const key = `${registrationPrefix(options)}${options.service}/${options.address}`;
  const value = JSON.stringify({
    service: options.service,
    address: options.address,
    tools: options.tools ?? [],
    registeredAt: new Date(clock.now()).toISOString(),
  });
  let lease: Lease | undefined;
  let live = false;
  let stopped = false;
  let retryTimer: ClockTimer | undefined;

  // One pending retry at most: a failed grant reports both 'lost' and a failed put.
  const retry = () => {
    if (stopped || retryTimer) return;
    retryTimer = clock.setTimeout(() => {
      retryTimer = undefined;
      void register();
    }, options.retryMs ?? 1_000);
  };
  const register = async () => {
    const next = client.lease(options.ttlSeconds ?? 10);
    lease = next;
    next.on('lost', (error) => {
      if (lease !== next) return;
      live = false;
      options.onError?.(error);
      retry();
    });
    try {
      await next.put(key).value(value);
      live = true;
    } catch (error) {
      options.onError?.(error);
      if (lease !== next) return;
      // The lease may have been granted before the put failed; let it expire.
      next.release();
      retry();
    }
  };

  await register();
  return {
    key,
    registered: () => live,
    async deregister() {
      stopped = true;
      retryTimer?.cancel();
      live = false;
      // Revoking deletes the key now; if etcd is unreachable the TTL removes it.
      const gaveUp = new AbortController();
      await Promise.race([
        lease?.revoke().catch(() => {}),
        clock.sleep(2_000, gaveUp.signal).catch(() => {}),
      ]);
      gaveUp.abort();
      client.close();
    },
  };
}
