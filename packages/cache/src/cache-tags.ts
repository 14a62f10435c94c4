import { encodeSegment } from './cache-key.ts';

/**
 * Tags of a tool call: one per top-level argument whose name ends in `_id` and whose value
 * is a non-empty string or a finite number, as `${tenant}:${user}:${name}=${value}`
 * (e.g. `t_1:u_1001:order_id=202604100018`), sorted and without duplicates.
 *
 * Reads are stored with these tags and a write invalidates its own tags, so a write with
 * `order_id` X drops every cached read of that user about order X, whatever tool cached it.
 * Numbers and their decimal strings give the same tag, because models send either. Tags are
 * scoped to the user: a write does not invalidate what other users of the tenant cached.
 */
export function cacheTags(userId: string, tenantId: string, args: unknown): string[] {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) return [];
  const scope = `${encodeSegment(tenantId)}:${encodeSegment(userId)}:`;
  const tags = new Set<string>();
  for (const [name, value] of Object.entries(args)) {
    if (!name.endsWith('_id')) continue;
    let text: string | undefined;
    if (typeof value === 'string' && value !== '') text = value;
    else if (typeof value === 'number' && Number.isFinite(value)) text = String(value);
    if (text !== undefined) tags.add(`${scope}${encodeSegment(name)}=${encodeSegment(text)}`);
  }
  return [...tags].sort();
}
