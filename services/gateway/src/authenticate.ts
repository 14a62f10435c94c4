import type { Principal } from '@toolmesh/proto';
import type { ApiKeys } from './identity/api-keys.ts';
import { jwtShape } from './identity/api-keys.ts';
import { createApiKeyVerifier, type TokenVerifier } from './identity/create-api-key-verifier.ts';

/**
 * Resolves an `authorization` header to the caller's principal; undefined when the
 * credential is missing or refused. May reject with an error meant for the caller
 * (a JWT without a tenant, an unreachable JWKS endpoint).
 */
export type Authenticate = (authorization: string | null) => Promise<Principal | undefined>;

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  /** Verifies API keys; none: no API key is accepted. */
  apiKeys?: TokenVerifier;
  /** Verifies JWTs; none: no JWT is accepted. */
  jwt?: TokenVerifier;
}

const bearer = /^Bearer\s+(\S+)\s*$/i;

/**
 * `authorization: Bearer <credential>`: a credential shaped like a JWT (three base64url
 * parts) goes to the JWT verifier, anything else to the API keys. Neither ever sees the
 * other's credentials, so an API key is never sent to an identity provider's verifier.
 */
export function createAuthenticator(options: AuthenticatorOptions): Authenticate {
  return async (authorization) => {
    const token = bearer.exec(authorization ?? '')?.[1];
    if (!token) return undefined;
    const verify = jwtShape.test(token) ? options.jwt : options.apiKeys;
    return verify ? verify(token) : undefined;
  };
}

/** Authentication by API keys alone (the development keys, tests). */
export function createApiKeyAuthenticator(keys: ApiKeys): Authenticate {
  return createAuthenticator({ apiKeys: createApiKeyVerifier(keys) });
}
