import { type Discovery, parseServiceEntry } from './discovery.ts';

/** Fixed addresses (the dev default), each `[service=]host:port`: the set never changes. */
export function createStaticDiscovery(addresses: readonly string[]): Discovery {
  const endpoints = addresses.map((entry) => ({ ...parseServiceEntry(entry), version: '' }));
  return {
    kind: 'static',
    start: async () => {},
    endpoints: () => endpoints,
    onChange: () => {},
    stop: async () => {},
  };
}
