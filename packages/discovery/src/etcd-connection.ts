import { Etcd3 } from 'etcd3';

/** Where etcd is and under which prefix services register. */
export interface EtcdConnection {
  /** etcd client URLs, e.g. ["http://127.0.0.1:2379"]. */
  endpoints: readonly string[];
  /** Key prefix of registrations; default "/toolmesh/services/". */
  prefix?: string;
}

/** The prefix under which every tool service registers. */
export const registrationPrefix = (connection: EtcdConnection) => connection.prefix ?? '/toolmesh/services/';

/** An etcd client that gives up on a dead member quickly instead of hanging a caller. */
export function openEtcd(connection: EtcdConnection): Etcd3 {
  return new Etcd3({ hosts: [...connection.endpoints], dialTimeout: 2_000 });
}
