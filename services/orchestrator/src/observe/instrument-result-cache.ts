import type { ResultCache } from '../core-types.ts';
import type { OrchestratorMetrics } from './orchestrator-metrics.ts';

/** Counts the read cache's hits and misses per tool. */
export function instrumentResultCache(cache: ResultCache, metrics: OrchestratorMetrics): ResultCache {
  return {
    ...cache,
    async lookup(principal, tool, argumentsJson) {
      const hit = await cache.lookup(principal, tool, argumentsJson);
      (hit === undefined ? metrics.cacheMisses : metrics.cacheHits).inc({ tool });
      return hit;
    },
  };
}
