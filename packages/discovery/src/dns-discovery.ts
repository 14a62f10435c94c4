import { lookup as dnsLookup } from 'node:dns/promises';
import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import {
  createEndpointSet,
  type DiscoveredEndpoint,
  type Discovery,
  parseServiceEntry,
} from './discovery.ts';

/** Resolves a host name to every address it has. */
export type Lookup = (host: string) => Promise<string[]>;

/** Options of {@link createDnsDiscovery}. */
export interface DnsDiscoveryOptions {
  /**
   * host:port names, e.g. a Kubernetes headless Service
   * `order.toolmesh.svc.cluster.local:50061`; every address a name resolves to is an endpoint,
   * of the service the name's first label (or a `service=` prefix) names.
   */
  targets: readonly string[];
  /** Re-resolve this often; default 10 s (pods come and go). */
  intervalMs?: number;
  /** Replaceable for tests; default: the system resolver, all addresses. */
  lookup?: Lookup;
  /** A name that fails to resolve keeps its last known addresses; this hears why. */
  onError?: (target: string, error: unknown) => void;
  /** Times the re-resolution; default the system clock. */
  clock?: Clock;
}

const systemLookup: Lookup = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);

const splitTarget = (target: string) => {
  const at = target.lastIndexOf(':');
  return { host: target.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: target.slice(at + 1) };
};

const joinAddress = (ip: string, port: string) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** DNS discovery: every address of every name, re-resolved periodically. */
export function createDnsDiscovery(options: DnsDiscoveryOptions): Discovery {
  const lookup = options.lookup ?? systemLookup;
  const set = createEndpointSet();
  const lastKnown = new Map<string, DiscoveredEndpoint[]>();
  const clock = options.clock ?? systemClock;
  let timer: ClockTimer | undefined;

  const resolveAll = async () => {
    await Promise.all(
      options.targets.map(async (target) => {
        const { address, service } = parseServiceEntry(target);
        const { host, port } = splitTarget(address);
        try {
          const ips = [...new Set(await lookup(host))].sort();
          lastKnown.set(
            target,
            ips.map((ip) => ({ address: joinAddress(ip, port), version: '', service })),
          );
        } catch (error) {
          options.onError?.(target, error);
        }
      }),
    );
    set.set([...lastKnown.values()].flat());
  };

  return {
    kind: 'dns',
    async start() {
      await resolveAll();
      timer = clock.setInterval(() => void resolveAll(), options.intervalMs ?? 10_000).unref();
    },
    endpoints: set.get,
    onChange: set.listen,
    async stop() {
      timer?.cancel();
    },
  };
}
