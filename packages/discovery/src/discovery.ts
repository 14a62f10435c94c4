/** One tool service endpoint as discovery reports it. */
export interface DiscoveredEndpoint {
  /** host:port to call. */
  readonly address: string;
  /**
   * Changes when the endpoint was replaced or re-registered (a restart at the
   * same address), so its tools are read again. Empty when the source cannot tell.
   */
  readonly version: string;
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
      .map((e) => `${e.address}@${e.version}`)
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
