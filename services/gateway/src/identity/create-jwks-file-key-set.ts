import type { Clock } from '@toolmesh/clock';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { createReloadingFile } from './create-reloading-file.ts';

/**
 * Parses a JWKS file: `{"keys": [...]}` with at least one key. Throws with what is wrong.
 * Symmetric ("oct") keys are refused: a JWKS file publishes verification keys only.
 */
export function parseJwks(text: string): JSONWebKeySet {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('not valid JSON');
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new Error('expected {"keys": [ … ]} with at least one key');
  for (const key of keys) {
    if (!key || typeof key !== 'object' || typeof (key as { kty?: unknown }).kty !== 'string') {
      throw new Error('every key needs a "kty"');
    }
    if ((key as { kty: string }).kty === 'oct') throw new Error('symmetric ("oct") keys are not accepted');
  }
  // Also checks the shape the way jose will use it.
  createLocalJWKSet(json as JSONWebKeySet);
  return json as JSONWebKeySet;
}

/** Options of {@link createJwksFileKeySet}. */
export interface JwksFileKeySetOptions {
  path: string;
  clock: Clock;
  /** The file's text as read and checked at start. */
  initialText: string;
  /** Least time between two reads; default 5 s. */
  checkEveryMs?: number;
  onError?: (error: unknown) => void;
  onReload?: () => void;
}

/**
 * The keys of a local JWKS file (e.g. a mounted ConfigMap), re-read when it changes and
 * at most every `checkEveryMs`: the issuer rotates keys by publishing the new one next to
 * the old, then dropping the old, with no restart here.
 */
export function createJwksFileKeySet(options: JwksFileKeySetOptions): JWTVerifyGetKey {
  const toKeySet = (text: string) => createLocalJWKSet(parseJwks(text));
  const file = createReloadingFile({
    path: options.path,
    parse: toKeySet,
    clock: options.clock,
    initial: { text: options.initialText, value: toKeySet(options.initialText) },
    checkEveryMs: options.checkEveryMs,
    onError: options.onError,
    onReload: options.onReload,
  });
  return async (header, token) => (await file.current())(header, token);
}
