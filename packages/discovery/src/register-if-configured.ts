import { hostname } from 'node:os';
import type { EtcdConnection } from './etcd-connection.ts';
import { type Registration, registerService } from './register-service.ts';

/** A service's discovery settings (see `discoverySettings` in @toolmesh/config). */
export interface DiscoverySettings {
  kind: 'static' | 'dns' | 'etcd';
  etcd: EtcdConnection;
  /** host:port others reach this replica at; default derived from where it listens. */
  advertiseAddress?: string | undefined;
  ttlSeconds: number;
}

/** What {@link registerIfConfigured} needs to know about the replica. */
export interface ReplicaInfo {
  service: string;
  /** Where the server listens. */
  host: string;
  port: number;
  tools?: readonly string[];
  onError?: (error: unknown) => void;
}

const unregistered: Registration = {
  key: '',
  registered: () => false,
  deregister: async () => {},
};

/**
 * Registers the replica in etcd when discovery is "etcd"; with static or dns
 * discovery the platform (configuration, Kubernetes) already knows where it is.
 */
export async function registerIfConfigured(
  settings: DiscoverySettings,
  replica: ReplicaInfo,
): Promise<Registration> {
  if (settings.kind !== 'etcd') return unregistered;
  // A wildcard listen address is no address to call; the host name is, inside a cluster.
  const host = ['0.0.0.0', '::', ''].includes(replica.host) ? hostname() : replica.host;
  return registerService({
    ...settings.etcd,
    service: replica.service,
    address: settings.advertiseAddress ?? `${host}:${replica.port}`,
    tools: replica.tools,
    ttlSeconds: settings.ttlSeconds,
    onError: replica.onError,
  });
}
