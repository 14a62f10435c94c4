/** A Node process's own memory figures (process.memoryUsage), as its /metrics reports them. */
export interface NodeMemory {
  /** Live JS objects (and garbage not yet collected). */
  heapUsedBytes: number;
  /** Memory outside the JS heap that JS objects hold: Buffers, ArrayBuffers. */
  externalBytes: number;
}

const gauge = (text: string, name: string) =>
  Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)`, 'm').exec(text)?.[1] ?? Number.NaN);

/** Reads prom-client's default nodejs_* gauges from a service's /metrics; NaN where absent. */
export async function readNodeMemory(metricsUrl: string | undefined): Promise<NodeMemory> {
  if (!metricsUrl) return { heapUsedBytes: Number.NaN, externalBytes: Number.NaN };
  const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) })).text();
  return {
    heapUsedBytes: gauge(text, 'nodejs_heap_size_used_bytes'),
    externalBytes: gauge(text, 'nodejs_external_memory_bytes'),
  };
}
