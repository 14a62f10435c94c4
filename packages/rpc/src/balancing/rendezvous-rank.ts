// FNV-1a over the UTF-16 code units, then murmur3's finalizer: cheap, and well spread even for
// keys and addresses that differ in one character (UUIDs, ports).
const score = (key: string, address: string): number => {
  let h = 0x811c9dc5;
  const text = `${key}\u0000${address}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

/**
 * Rendezvous (highest random weight) hashing: `items` ordered by preference for `key`, best
 * first. Every caller that sees the same items ranks them alike, and removing one item moves
 * only the keys it ranked first (each to its own runner-up), so a replica leaving the healthy
 * set disturbs nobody else's preference.
 */
export function rendezvousRank<T>(key: string, items: readonly T[], addressOf: (item: T) => string): T[] {
  return items
    .map((item) => ({ item, weight: score(key, addressOf(item)), address: addressOf(item) }))
    .sort((a, b) => b.weight - a.weight || (a.address < b.address ? -1 : 1))
    .map((entry) => entry.item);
}
