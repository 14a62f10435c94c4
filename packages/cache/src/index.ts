export type { CacheKey } from './cache-key.ts';
export { cacheTags } from './cache-tags.ts';
export {
  type CacheOperation,
  createToolCache,
  type ToolCache,
  type ToolCacheOptions,
  type ToolCacheStats,
} from './tool-cache.ts';
