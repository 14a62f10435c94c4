import { type Clock, systemClock } from '@toolmesh/clock';
import { errorFor } from '@toolmesh/rpc';
import { errors, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { TokenVerifier } from './create-api-key-verifier.ts';
import { type ClaimMapping, principalFromClaims } from './principal-from-claims.ts';

/**
 * Asymmetric signatures only: a JWKS holds public keys, so an HMAC or "none" token would be
 * one anybody could make.
 */
export const allowedJwtAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];

/** Options of {@link createJwtVerifier}. */
export interface JwtVerifierOptions {
  /** The verification keys: a remote JWKS (`createRemoteJWKSet`) or {@link createJwksFileKeySet}. */
  keys: JWTVerifyGetKey;
  /** Required `iss`. */
  issuer: string;
  /** Required `aud` (one of them, if several). */
  audience: string | string[];
  /** Tolerated difference between our clock and the issuer's; default 30 s. */
  clockSkewSeconds?: number;
  /** The time `exp` and `nbf` are checked against; default the system clock. */
  clock?: Clock;
  claims?: ClaimMapping;
  /** A token was refused (expired, bad signature …): for the log, never for the caller. */
  onReject?: (reason: string) => void;
}

// Failures of the key source itself, not of the token: the caller should retry, not re-login.
// A network error is not a JOSEError; a JWKS endpoint that answers non-200 or no JSON Web Key
// Set is ERR_JOSE_GENERIC or JWKSInvalid (a local key set was checked at start).
const keySourceDown = (error: unknown) =>
  !(error instanceof errors.JOSEError) ||
  error instanceof errors.JWKSTimeout ||
  error instanceof errors.JWKSInvalid ||
  error.code === 'ERR_JOSE_GENERIC';

/**
 * Verifies a JWT bearer token against a JWKS (signature with an asymmetric algorithm,
 * issuer, audience, expiry within the clock skew; `exp` is required) and maps its claims
 * to a principal. A refused token is undefined (UNAUTHENTICATED); an unreachable JWKS
 * endpoint is DEPENDENCY_UNAVAILABLE.
 */
export function createJwtVerifier(options: JwtVerifierOptions): TokenVerifier {
  const clock = options.clock ?? systemClock;
  return async (token) => {
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(token, options.keys, {
        algorithms: allowedJwtAlgorithms,
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: options.clockSkewSeconds ?? 30,
        currentDate: new Date(clock.now()),
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      if (keySourceDown(error)) {
        throw errorFor('DEPENDENCY_UNAVAILABLE', {
          metadata: { dependency: 'identity provider' },
          cause: error,
        });
      }
      options.onReject?.((error as errors.JOSEError).code);
      return undefined;
    }
    return principalFromClaims(payload, options.claims);
  };
}
