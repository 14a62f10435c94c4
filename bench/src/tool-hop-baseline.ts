import type { ToolHopRow } from './measure-tool-hop.ts';

/**
 * The raw grpc-js echo's p50 at `concurrency` that every path of that level is compared with
 * (the paths of a level run interleaved with it). Undefined when the level has no raw run.
 */
export function rawP50Ms(rows: readonly ToolHopRow[], concurrency: number): number | undefined {
  return rows.find((r) => r.path.startsWith('raw') && r.result.concurrency === concurrency)?.result.latency
    .p50Ms;
}
