import type { Clock } from '@toolmesh/clock';
import type { Logger } from '@toolmesh/telemetry';
import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import { type Authenticate, createAuthenticator } from '../authenticate.ts';
import { type ApiKeys, parseApiKeys } from './api-keys.ts';
import { type ApiKeySource, createApiKeyVerifier } from './create-api-key-verifier.ts';
import { createJwksFileKeySet } from './create-jwks-file-key-set.ts';
import { createJwtVerifier } from './create-jwt-verifier.ts';
import { createReloadingFile } from './create-reloading-file.ts';
import type { ClaimMapping } from './principal-from-claims.ts';

/** Where the gateway's API keys come from, as the configuration found them. */
export type ApiKeySettings =
  | { source: 'dev'; keys: ApiKeys }
  | { source: 'env'; keys: ApiKeys }
  | { source: 'file'; path: string; text: string; keys: ApiKeys };

/** JWT bearer tokens, as the configuration found them. */
export interface JwtSettings {
  jwks: { kind: 'url'; url: URL } | { kind: 'file'; path: string; text: string };
  issuer: string;
  audience: string[];
  clockSkewSeconds: number;
  claims: ClaimMapping;
}

/** Everything the gateway accepts as a caller's credential. */
export interface EdgeIdentitySettings {
  apiKeys?: ApiKeySettings | undefined;
  jwt?: JwtSettings | undefined;
}

/** Options of {@link createEdgeAuthenticator}. */
export interface EdgeAuthenticatorOptions {
  clock: Clock;
  logger: Logger;
  /** Least time between two reads of a key file; default 5 s. */
  checkEveryMs?: number;
}

/**
 * The gateway's authenticator from its configuration: API keys (fixed, or from a file
 * re-read when it changes) and JWTs verified against a JWKS endpoint or file.
 */
export function createEdgeAuthenticator(
  settings: EdgeIdentitySettings,
  options: EdgeAuthenticatorOptions,
): Authenticate {
  const { clock, logger } = options;
  let apiKeys: ApiKeySource | undefined;
  const keys = settings.apiKeys;
  if (keys?.source === 'file') {
    apiKeys = createReloadingFile({
      path: keys.path,
      parse: parseApiKeys,
      clock,
      initial: { text: keys.text, value: keys.keys },
      checkEveryMs: options.checkEveryMs,
      // The message names the problem, never a key (parseApiKeys sees to it).
      onError: (error) =>
        logger.warn({ err: error, path: keys.path }, 'API key file unusable; keeping the last keys'),
      onReload: (fresh) =>
        logger.info({ path: keys.path, keys: Object.keys(fresh).length }, 'API key file reloaded'),
    });
  } else if (keys) {
    apiKeys = keys.keys;
  }
  const jwt = settings.jwt;
  let jwtKeys: JWTVerifyGetKey | undefined;
  if (jwt?.jwks.kind === 'url') {
    jwtKeys = createRemoteJWKSet(jwt.jwks.url, { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  } else if (jwt?.jwks.kind === 'file') {
    const { path, text } = jwt.jwks;
    jwtKeys = createJwksFileKeySet({
      path,
      clock,
      initialText: text,
      checkEveryMs: options.checkEveryMs,
      onError: (error) => logger.warn({ err: error, path }, 'JWKS file unusable; keeping the last keys'),
      onReload: () => logger.info({ path }, 'JWKS file reloaded'),
    });
  }
  return createAuthenticator({
    apiKeys: apiKeys && createApiKeyVerifier(apiKeys),
    jwt:
      jwt && jwtKeys
        ? createJwtVerifier({
            keys: jwtKeys,
            issuer: jwt.issuer,
            audience: jwt.audience,
            clockSkewSeconds: jwt.clockSkewSeconds,
            clock,
            claims: jwt.claims,
            onReject: (reason) => logger.debug({ reason }, 'JWT refused'),
          })
        : undefined,
  });
}
