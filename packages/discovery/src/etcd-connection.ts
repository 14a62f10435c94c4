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

// The longest wait before a broken watch is opened again.
const watchRetryMaxMs = 2_000;

/** The shape etcd3 takes for its watch reconnects (cockatiel 3's IBackoff). */
interface WatchBackoff {
  readonly duration: number;
  next(): WatchBackoff;
}

/**
 * etcd3's own watch backoff grows to 30 s: discovery would stay that stale after etcd is back,
 * and the library never cancels a pending reconnect, so a closed client's last timer would hold
 * its process open as long. Ours doubles from 250 ms to 2 s, the pace of our other etcd retries,
 * with jitter so replicas that lost etcd together do not come back in step.
 */
function watchBackoff(attempt: number): WatchBackoff {
  const ceiling = Math.min(watchRetryMaxMs, 250 * 2 ** attempt);
  return {
    duration: Math.round(ceiling * (0.5 + Math.random() / 2)),
    next: () => watchBackoff(Math.min(attempt + 1, 8)),
  };
}

/** An etcd client that gives up on a dead member quickly instead of hanging a caller. */
export function openEtcd(connection: EtcdConnection): Etcd3 {
  return new Etcd3({
    hosts: [...connection.endpoints],
    dialTimeout: 2_000,
    // etcd3 takes the first delay from next(), so this factory's own duration is never used.
    faultHandling: { watchBackoff: { duration: 0, next: () => watchBackoff(0) } },
  });
}
