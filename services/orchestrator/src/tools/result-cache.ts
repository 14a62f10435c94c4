import { cacheTags, type ToolCache } from '@toolmesh/cache';
import type { ResultCache } from '../core-types.ts';

const parse = (json: string): unknown => {
  try {
    return JSON.parse(json);
  } catch {
    return {};
  }
};

/**
 * The executor's read cache on @toolmesh/cache: entries are keyed by tenant, user,
 * tool and canonical arguments, and tagged by the `*_id` arguments, so a write
 * about order X drops every cached read of that user about order X.
 */
export function createResultCache(cache: ToolCache): ResultCache {
  return {
    lookup: (p, tool, argumentsJson) =>
      cache.get({ userId: p.userId, tenantId: p.tenantId, tool, argumentsJson }),
    store: (p, tool, argumentsJson, result, ttlMs) =>
      cache.set(
        { userId: p.userId, tenantId: p.tenantId, tool, argumentsJson },
        result,
        ttlMs,
        cacheTags(p.userId, p.tenantId, parse(argumentsJson)),
      ),
    invalidate: async (p, argumentsJson) => {
      await cache.invalidateTags(cacheTags(p.userId, p.tenantId, parse(argumentsJson)));
    },
  };
}
