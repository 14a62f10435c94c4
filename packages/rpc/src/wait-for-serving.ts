import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from '@toolmesh/proto';
import { createGrpcClient } from './create-grpc-client.ts';

/** Options of {@link waitForServing}. */
export interface WaitForServingOptions {
  /** Give up after this long; default 30 s. */
  timeoutMs?: number;
  /** Health service name; "" (default) asks for the server as a whole. */
  service?: string;
  /** Stops waiting early, e.g. when the process being waited for exited. */
  signal?: AbortSignal;
}

/** Polls grpc.health.v1.Health/Check until the server at `address` says SERVING. */
export async function waitForServing(address: string, options: WaitForServingOptions = {}): Promise<void> {
  const client = createGrpcClient(Health, { address, defaultTimeoutMs: 1_000 });
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    options.signal?.throwIfAborted();
    try {
      const res = await client.check({ service: options.service ?? '' });
      if (res.status === ServingStatus.SERVING) return;
      lastError = new Error(`health status ${res.status}`);
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${address} not SERVING after ${options.timeoutMs ?? 30_000} ms: ${String(lastError)}`);
}
