import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { createEndpointSet, type DiscoveredEndpoint, type Discovery } from './discovery.ts';
import { type EtcdConnection, openEtcd, registrationPrefix } from './etcd-connection.ts';

/** Options of {@link createEtcdDiscovery}. */
export interface EtcdDiscoveryOptions extends EtcdConnection {
  /** Hears why etcd could not be read; the last known endpoints stay in use meanwhile. */
  onError?: (error: unknown) => void;
  /** Retry interval while etcd is unreachable; default 2 s. */
  retryMs?: number;
  /** Times the retries; default the system clock. */
  clock?: Clock;
}

// A registration's value; only the address matters here, the rest is for operators.
const addressOf = (kv: IKeyValue): string | undefined => {
  try {
    const value = JSON.parse(kv.value.toString()) as { address?: unknown };
    return typeof value.address === 'string' ? value.address : undefined;
  } catch {
    return undefined;
  }
};

/**
 * etcd discovery: reads every registration under the prefix, then watches it.
 * While etcd is down the last known endpoints are kept; after a reconnect the
 * whole prefix is read again, so nothing missed during the outage lingers.
 */
export function createEtcdDiscovery(options: EtcdDiscoveryOptions): Discovery {
  const prefix = registrationPrefix(options);
  const set = createEndpointSet();
  const known = new Map<string, DiscoveredEndpoint>();
  let client: Etcd3 | undefined;
  let watcher: Watcher | undefined;
  const clock = options.clock ?? systemClock;
  let retryTimer: ClockTimer | undefined;
  let stopped = false;

  const publish = () => set.set([...known.values()]);
  // The service is the key's segment after the prefix (`<prefix><service>/<address>`), the name
  // the replica registered under: whoever may write that key in etcd vouches for it.
  const remember = (kv: IKeyValue) => {
    const address = addressOf(kv);
    const key = kv.key.toString();
    const service = key.slice(prefix.length).split('/')[0] || undefined;
    if (address) known.set(key, { address, version: kv.mod_revision, service });
  };

  const resync = async (etcd: Etcd3) => {
    const res = await etcd.getAll().prefix(prefix).exec();
    known.clear();
    for (const kv of res.kvs) remember(kv);
    publish();
    return res.header.revision;
  };

  const connect = async () => {
    client ??= openEtcd(options);
    const etcd = client;
    try {
      const revision = await resync(etcd);
      watcher = await etcd
        .watch()
        .prefix(prefix)
        .startRevision(String(BigInt(revision) + 1n))
        .create();
      let lost = false;
      watcher.on('put', (kv) => {
        remember(kv);
        publish();
      });
      watcher.on('delete', (kv) => {
        known.delete(kv.key.toString());
        publish();
      });
      watcher.on('disconnected', (error) => {
        lost = true;
        options.onError?.(error);
      });
      watcher.on('connected', () => {
        if (!lost) return;
        lost = false;
        resync(etcd).catch((error: unknown) => options.onError?.(error));
      });
      watcher.on('error', (error) => options.onError?.(error));
    } catch (error) {
      options.onError?.(error);
      if (!stopped) retryTimer = clock.setTimeout(() => void connect(), options.retryMs ?? 2_000);
    }
  };

  return {
    kind: 'etcd',
    start: connect,
    endpoints: set.get,
    onChange: set.listen,
    async stop() {
      stopped = true;
      retryTimer?.cancel();
      await watcher?.cancel().catch(() => {});
      client?.close();
    },
  };
}
