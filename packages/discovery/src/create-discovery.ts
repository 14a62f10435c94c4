import type { Clock } from '@toolmesh/clock';
import type { Discovery } from './discovery.ts';
import { createDnsDiscovery } from './dns-discovery.ts';
import { createEtcdDiscovery } from './etcd-discovery.ts';
import type { DiscoverySettings } from './register-if-configured.ts';
import { createStaticDiscovery } from './static-discovery.ts';

/** Options of {@link createDiscovery}. */
export interface CreateDiscoveryOptions {
  settings: DiscoverySettings;
  /** host:port list: the addresses (static) or the names to resolve (dns). */
  addresses: readonly string[];
  /** DNS re-resolution interval; default 10 s. */
  dnsRefreshMs?: number;
  /** Hears lookup and etcd failures; the last known endpoints stay in use. */
  onError?: (error: unknown) => void;
  /** Times re-resolution and retries; default the system clock. */
  clock?: Clock;
}

/** The {@link Discovery} the settings name. */
export function createDiscovery(options: CreateDiscoveryOptions): Discovery {
  const { settings, onError } = options;
  switch (settings.kind) {
    case 'dns':
      return createDnsDiscovery({
        targets: options.addresses,
        intervalMs: options.dnsRefreshMs,
        clock: options.clock,
        onError: (target, error) => onError?.(new Error(`resolving ${target} failed`, { cause: error })),
      });
    case 'etcd':
      return createEtcdDiscovery({ ...settings.etcd, onError, clock: options.clock });
    default:
      return createStaticDiscovery(options.addresses);
  }
}
