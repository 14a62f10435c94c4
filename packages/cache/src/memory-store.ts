import type { CacheStore } from './cache-store.ts';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Most entries held at once; the least recently used one goes first. */
  maxEntries: number;
  /** Current time in milliseconds. */
  now: () => number;
}

interface Entry {
  value: string;
  expiresAt: number;
  tags: readonly string[];
}

/**
 * Entries in a Map whose insertion order doubles as the LRU order (a hit moves its key to
 * the end), plus an exact index from tag to keys. Every removal also leaves the index, so
 * the index never outgrows the entries.
 */
export function createMemoryStore(options: MemoryStoreOptions): CacheStore {
  const { maxEntries, now } = options;
  const entries = new Map<string, Entry>();
  const keysByTag = new Map<string, Set<string>>();

  const remove = (key: string, entry: Entry) => {
    entries.delete(key);
    for (const tag of entry.tags) {
      const keys = keysByTag.get(tag);
      if (!keys) continue;
      keys.delete(key);
      if (keys.size === 0) keysByTag.delete(tag);
    }
  };

  // Expired entries are otherwise only found by a get; looking at the two least recently
  // used ones per write lets them drain away without a timer.
  const pruneExpired = (at: number) => {
    for (let i = 0; i < 2; i++) {
      const oldest = entries.entries().next();
      if (oldest.done || oldest.value[1].expiresAt > at) return;
      remove(oldest.value[0], oldest.value[1]);
    }
  };

  return {
    async get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= now()) {
        remove(key, entry);
        return undefined;
      }
      entries.delete(key);
      entries.set(key, entry);
      return entry.value;
    },
    async set(key, value, ttlMs, tags) {
      const at = now();
      pruneExpired(at);
      const previous = entries.get(key);
      if (previous) remove(key, previous);
      while (entries.size >= maxEntries) {
        const oldest = entries.entries().next();
        if (oldest.done) break;
        remove(oldest.value[0], oldest.value[1]);
      }
      const unique = [...new Set(tags)];
      entries.set(key, { value, expiresAt: at + ttlMs, tags: unique });
      for (const tag of unique) {
        let keys = keysByTag.get(tag);
        if (!keys) {
          keys = new Set();
          keysByTag.set(tag, keys);
        }
        keys.add(key);
      }
    },
    async invalidate(tags) {
      const at = now();
      let removed = 0;
      for (const tag of tags) {
        const keys = keysByTag.get(tag);
        if (!keys) continue;
        for (const key of [...keys]) {
          const entry = entries.get(key);
          if (!entry) continue;
          // An expired entry was already invisible; removing it is housekeeping, not an invalidation.
          if (entry.expiresAt > at) removed++;
          remove(key, entry);
        }
      }
      return removed;
    },
  };
}
