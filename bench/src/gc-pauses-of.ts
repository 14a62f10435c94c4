/** A process's garbage-collection pauses so far, from prom-client's `nodejs_gc_duration_seconds`. */
export interface GcPauses {
  totalMs: number;
  count: number;
  /** Pauses longer than 10 ms and than 100 ms (the histogram's bucket bounds). */
  over10Ms: number;
  over100Ms: number;
}

/** The GC pause histogram in a process's /metrics text, summed over the kinds of collection. */
export function gcPausesOf(metricsText: string): GcPauses {
  let totalMs = 0;
  let count = 0;
  let upTo10Ms = 0;
  let upTo100Ms = 0;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith('nodejs_gc_duration_seconds')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('nodejs_gc_duration_seconds_sum')) totalMs += value * 1000;
    else if (line.startsWith('nodejs_gc_duration_seconds_count')) count += value;
    else if (line.includes('le="0.01"')) upTo10Ms += value;
    else if (line.includes('le="0.1"')) upTo100Ms += value;
  }
  return { totalMs, count, over10Ms: count - upTo10Ms, over100Ms: count - upTo100Ms };
}

/** The pauses between two readings. */
export function gcPausesBetween(before: GcPauses, after: GcPauses): GcPauses {
  return {
    totalMs: after.totalMs - before.totalMs,
    count: after.count - before.count,
    over10Ms: after.over10Ms - before.over10Ms,
    over100Ms: after.over100Ms - before.over100Ms,
  };
}
