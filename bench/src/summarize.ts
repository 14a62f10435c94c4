/** Latency percentiles of one run, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

/** Nearest-rank percentiles: no interpolation, so every figure is a latency that really happened. */
export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, meanMs: 0, maxMs: 0 };
  const sorted = Float64Array.from(samples).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: sorted.length,
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    meanMs: sum / sorted.length,
    maxMs: sorted[sorted.length - 1] ?? 0,
  };
}
