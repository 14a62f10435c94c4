import { type Clock, systemClock } from '@toolmesh/clock';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWTHeaderParameters,
} from 'jose';
import { createWatchedFile } from './watched-file.ts';

/** Finds the public key of a token by its header, as jose's jwtVerify takes it. */
export type KeyResolver = ReturnType<typeof createLocalJWKSet>;

/** Options of {@link jwksFromFile}. */
export interface JwksFileOptions {
  /** A JSON Web Key Set of public keys. */
  path: string;
  clock?: Clock;
  /** How often, at most, the file is checked for changes; default 5 s. */
  checkEveryMs?: number;
}

function parseJwks(text: string): KeyResolver {
  const jwks = JSON.parse(text) as JSONWebKeySet;
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error('JWKS without keys');
  if (jwks.keys.some((k) => 'd' in k)) throw new Error('JWKS holds a private key');
  return createLocalJWKSet(jwks);
}

/**
 * Public keys from a JWKS file (a mounted ConfigMap), re-read when it changes. A token whose
 * key id is not in the set makes one immediate re-read: during a rotation the new key may
 * have arrived since the last check.
 */
export function jwksFromFile(options: JwksFileOptions): KeyResolver {
  const file = createWatchedFile({
    path: options.path,
    clock: options.clock ?? systemClock,
    checkEveryMs: options.checkEveryMs,
    parse: parseJwks,
  });
  const clock = options.clock ?? systemClock;
  let lastReload = Number.NEGATIVE_INFINITY;
  return (async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    try {
      return await (await file.current())(header, token);
    } catch (error) {
      // Only an unknown key id, and at most once a second: forged tokens must not make us read files.
      const unknownKey = (error as { code?: string }).code === 'ERR_JWKS_NO_MATCHING_KEY';
      if (!unknownKey || clock.now() - lastReload < 1_000) throw error;
      lastReload = clock.now();
      return (await file.reload())(header, token);
    }
  }) as KeyResolver;
}

/** Public keys from a JWKS URL, cached and fetched again for an unknown key id (jose's remote set). */
export function jwksFromUrl(url: string): KeyResolver {
  return createRemoteJWKSet(new URL(url)) as unknown as KeyResolver;
}

/** Public keys from a JWKS held in memory (tests, or keys made at start). */
export function jwksFromKeys(jwks: JSONWebKeySet): KeyResolver {
  return createLocalJWKSet(jwks);
}

/** Public keys from where a service's settings say: a JWKS file or a JWKS URL. */
export function jwksFrom(source: { file: string } | { url: string }, clock?: Clock): KeyResolver {
  return 'file' in source ? jwksFromFile({ path: source.file, clock }) : jwksFromUrl(source.url);
}
