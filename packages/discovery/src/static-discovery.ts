import type { Discovery } from './discovery.ts';

/** Fixed addresses (the dev default): the set never changes. */
export function createStaticDiscovery(addresses: readonly string[]): Discovery {
  const endpoints = addresses.map((address) => ({ address, version: '' }));
  return {
    kind: 'static',
    start: async () => {},
    endpoints: () => endpoints,
    onChange: () => {},
    stop: async () => {},
  };
}
