import type { ToolHopRow } from './measure-tool-hop.ts';

/**
 * The raw grpc-js echo's p50 at `concurrency` that every path of that level is compared with:
 * the mean of its runs, first and again at the end of the level, as the VM's speed drifts
 * within minutes. Undefined when the level has no raw run.
 */
export function rawP50Ms(rows: readonly ToolHopRow[], concurrency: number): number | undefined {
  const raws = rows.filter((r) => r.path.startsWith('raw') && r.result.concurrency === concurrency);
  if (raws.length === 0) return undefined;
  return raws.reduce((sum, r) => sum + r.result.latency.p50Ms, 0) / raws.length;
}
