import { createHash } from 'node:crypto';

/** What a cached tool result is stored under: who asked, which tool, with which arguments. */
export interface CacheKey {
  userId: string;
  tenantId: string;
  tool: string;
  /** The arguments as canonical JSON (keys sorted at every level), so equal arguments hash equally. */
  argumentsJson: string;
}

/**
 * Encodes one segment of a key or tag. Percent-encoding turns `:` and `=` into `%3A`
 * and `%3D`, so ids containing separators cannot make two different keys collide,
 * while ordinary ids (`u_1001`, `202604100018`) stay readable.
 */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment);
}

/**
 * The storage key of an entry: `${tenant}:${user}:${tool}:${sha256(argumentsJson)}`.
 * Tenant and user are part of the key, so one user's entry never answers another;
 * hashing the arguments keeps keys short whatever their size.
 */
export function storageKey(key: CacheKey): string {
  const digest = createHash('sha256').update(key.argumentsJson).digest('hex');
  return `${encodeSegment(key.tenantId)}:${encodeSegment(key.userId)}:${encodeSegment(key.tool)}:${digest}`;
}
