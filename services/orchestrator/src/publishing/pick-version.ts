import { createHash } from 'node:crypto';

/** A served version of a tool and its share of conversations. */
export interface WeightedVersion {
  readonly version: string;
  /** 0-100 after normalizing; see {@link rolloutWeights}. */
  readonly weight: number;
}

/** Orders versions: numerically where both are numbers ("2" < "10"), unversioned ("") first. */
export const compareVersions = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

/**
 * Each served version's share (percent, summing to 100) from the policy's weights. A served
 * version the weights do not name gets 0; without weights, or when every named weight is 0,
 * the lowest served version gets 100: a new version takes conversations only once the
 * policy gives it a weight.
 */
export function rolloutWeights(
  served: readonly string[],
  weights: ReadonlyMap<string, number> | undefined,
): WeightedVersion[] {
  const sorted = [...served].sort(compareVersions);
  const raw = sorted.map((version) => weights?.get(version) ?? 0);
  const total = raw.reduce((a, b) => a + b, 0);
  if (total === 0) return sorted.map((version, i) => ({ version, weight: i === 0 ? 100 : 0 }));
  return sorted.map((version, i) => ({ version, weight: ((raw[i] ?? 0) * 100) / total }));
}

/**
 * The version a conversation uses: sticky, from a hash of conversation id and tool name into
 * [0, 100), against the versions' shares in order, the newest version taking the top of the
 * range. Raising a new version's weight moves more conversations to it and none back;
 * setting it to 0 moves every conversation back at once (rollback).
 */
export function pickVersion(
  conversationId: string,
  tool: string,
  versions: readonly WeightedVersion[],
): string | undefined {
  const digest = createHash('sha256').update(`${conversationId}\u0000${tool}`).digest();
  const point = (digest.readUInt32BE(0) / 2 ** 32) * 100;
  let upTo = 0;
  let last: string | undefined;
  for (const { version, weight } of versions) {
    if (weight <= 0) continue;
    upTo += weight;
    last = version;
    if (point < upTo) return version;
  }
  return last;
}
