import type { HealthRegistry } from './health-registry.ts';

/**
 * A running gRPC server with health and reflection, as `createServer` builds it: on grpc-js
 * (gRPC only), or gRPC on grpc-js with gRPC-Web and Connect on connect-node on one port.
 */
export interface Server {
  readonly health: HealthRegistry;
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Graceful shutdown: NOT_SERVING, stop accepting, let in-flight calls finish
   * within graceMs, then cancel what is left.
   */
  shutdown(graceMs?: number): Promise<void>;
}
