export { type CreateDiscoveryOptions, createDiscovery } from './create-discovery.ts';
export { type DiscoveredEndpoint, type Discovery, parseServiceEntry } from './discovery.ts';
export { createDnsDiscovery, type DnsDiscoveryOptions, type Lookup } from './dns-discovery.ts';
export type { EtcdConnection } from './etcd-connection.ts';
export { createEtcdDiscovery, type EtcdDiscoveryOptions } from './etcd-discovery.ts';
export {
  type DiscoverySettings,
  type ReplicaInfo,
  registerIfConfigured,
} from './register-if-configured.ts';
export { type RegisterServiceOptions, type Registration, registerService } from './register-service.ts';
export { createStaticDiscovery } from './static-discovery.ts';
