/** A cache backend; {@link createToolCache} adds timeouts, error handling and statistics. */
export interface CacheStore {
  /** The value under a storage key, unless missing or expired. */
  get(key: string): Promise<string | undefined>;
  /** Stores a value for `ttlMs` (a positive integer) and records it under each tag. */
  set(key: string, value: string, ttlMs: number, tags: readonly string[]): Promise<void>;
  /** Removes every live entry recorded under any of the tags; answers how many. */
  invalidate(tags: readonly string[]): Promise<number>;
}
