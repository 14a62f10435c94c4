import { create } from '@bufbuild/protobuf';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';
import { type ApiKeys, presentedKeyDigest, storedKeyDigest } from './api-keys.ts';

/** Resolves a bearer token to the principal it stands for, or undefined when it stands for none. */
export type TokenVerifier = (token: string) => Promise<Principal | undefined>;

/** Where API keys come from: a fixed map, or one that may change (a reloading file). */
export type ApiKeySource = ApiKeys | { current(): Promise<ApiKeys> };

const index = (keys: ApiKeys) =>
  new Map(
    Object.entries(keys).map(([key, p]) => [
      storedKeyDigest(key),
      create(PrincipalSchema, { userId: p.user_id, tenantId: p.tenant_id, permissions: p.permissions }),
    ]),
  );

/**
 * API-key verification. Only SHA-256 digests are kept in memory and a presented key is
 * always hashed before the lookup, so the lookup time does not depend on how much of a
 * guessed key matches, and a caller cannot present a stored digest as a key.
 */
export function createApiKeyVerifier(source: ApiKeySource): TokenVerifier {
  // A key of a map has 16+ characters, so a function `current` marks a reloading source.
  if (typeof (source as { current?: unknown }).current !== 'function') {
    const byDigest = index(source as ApiKeys);
    return async (token) => byDigest.get(presentedKeyDigest(token));
  }
  const reloading = source as { current(): Promise<ApiKeys> };
  let seen: ApiKeys | undefined;
  let byDigest = new Map<string, Principal>();
  return async (token) => {
    const keys = await reloading.current();
    // A reload yields a new object: index it once.
    if (keys !== seen) {
      byDigest = index(keys);
      seen = keys;
    }
    return byDigest.get(presentedKeyDigest(token));
  };
}
