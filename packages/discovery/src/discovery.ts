/** One tool service endpoint as discovery reports it. */
export interface DiscoveredEndpoint {
  /** host:port to call. */
  readonly address: string;
  /**
   * Changes when the endpoint was replaced or re-registered (a restart at the
   * same address), so its tools are read again. Empty when the source cannot tell.
   */
  readonly version: string;
  /**
   * The service the endpoint is registered under: the etcd key's service segment, or for
   * static and DNS entries the `name=` prefix, else the host name's first label (none for
   * an IP address). The publishing policy says which tool names each service may publish.
   */
  readonly service?: string;
}

/**
 * Splits a static or DNS entry `[service=]host:port`: the explicit service name, else the
 * host name's first label (`order.toolmesh.svc.cluster.local:50061` → `order`); an IP
 * address names no service.
 */
export function parseServiceEntry(entry: string): { address: string; service?: string } {
  const eq = entry.indexOf('=');
  if (eq > 0) return { service: entry.slice(0, eq), address: entry.slice(eq + 1) };
  const host = entry.replace(/:\d+$/, '');
  if (host.startsWith('[') || /^[\d.]+$/.test(host)) return { address: entry };
  return { address: entry, service: host.split('.')[0] };
}

/** Where the tool services are; one interface over static, dns and etcd. */
export interface Discovery {
  /** "static", "dns" or "etcd". */
  readonly kind: string;
  /** Resolves once the first set is known, or after the source failed its first try. */
  start(): Promise<void>;
  /** The current set; the last known one while the source is unreachable. */
  endpoints(): DiscoveredEndpoint[];
  /** Called with the whole new set whenever it changes. */
  onChange(listener: (endpoints: DiscoveredEndpoint[]) => void): void;
  stop(): Promise<void>;
}

/** Shared by the implementations: remembers listeners and tells them about real changes only. */
export function createEndpointSet() {
  let current: DiscoveredEndpoint[] = [];
  const listeners: Array<(endpoints: DiscoveredEndpoint[]) => void> = [];
  const fingerprint = (list: DiscoveredEndpoint[]) =>
    list
      .map((e) => `${e.service ?? ''}=${e.address}@${e.version}`)
      .sort()
      .join(',');
  return {
    get: () => current,
    set(next: DiscoveredEndpoint[]) {
      if (fingerprint(next) === fingerprint(current)) return;
      current = next;
      for (const listener of listeners) listener(next);
    },
    listen(listener: (endpoints: DiscoveredEndpoint[]) => void) {
      listeners.push(listener);
    },
  };
}
