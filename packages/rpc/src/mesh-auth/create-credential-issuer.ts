import { createPrivateKey, type JsonWebKey, type KeyObject, randomUUID } from 'node:crypto';
import { type Clock, systemClock } from '@toolmesh/clock';
import type { JWK } from 'jose';
import { type MeshAlgorithm, signCompactJws } from './compact-jws.ts';
import type { CredentialClaims } from './mesh-credential.ts';
import { createWatchedFile } from './watched-file.ts';

/** Signature algorithms a mesh key may use: asymmetric only, so verifiers hold no secret. */
export const meshAlgorithms: readonly MeshAlgorithm[] = ['EdDSA', 'ES256'];

/** A private signing key: a JWK with `kid` and `alg` (EdDSA or ES256). */
export interface SigningKey {
  kid: string;
  alg: MeshAlgorithm;
  key: KeyObject;
}

/** Imports a private JWK as a {@link SigningKey}; throws naming what is wrong. */
export async function importSigningKey(jwk: JWK): Promise<SigningKey> {
  const named = jwk.alg ?? (jwk.crv === 'Ed25519' ? 'EdDSA' : jwk.crv === 'P-256' ? 'ES256' : undefined);
  const alg = meshAlgorithms.find((allowed) => allowed === named);
  if (!alg) throw new Error(`mesh signing key: alg must be one of ${meshAlgorithms.join(', ')}`);
  if (!jwk.kid) throw new Error('mesh signing key: kid missing');
  if (!jwk.d) throw new Error('mesh signing key: not a private key');
  const curve = alg === 'EdDSA' ? 'Ed25519' : 'P-256';
  if (jwk.crv !== curve) throw new Error(`mesh signing key: ${alg} needs the curve ${curve}`);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (error) {
    throw new Error(`mesh signing key: not a usable JWK (${(error as Error).message})`);
  }
  return { kid: jwk.kid, alg, key };
}

/** Options of {@link createCredentialIssuer}. */
export interface CredentialIssuerOptions {
  /** `iss` of every credential; a verifier binds it to the key id's prefix. */
  issuer: string;
  /** The current signing key, e.g. {@link signingKeyFromFile}: asked on every issue, so rotation needs no restart. */
  signingKey: () => Promise<SigningKey>;
  /** Lifetime of a credential; default 60 s — long enough for a hop, short enough not to be worth stealing. */
  ttlSeconds?: number;
  clock?: Clock;
}

/** Signs mesh credentials. */
export interface CredentialIssuer {
  readonly issuer: string;
  /** A signed credential (a compact JWT) for `claims`. */
  issue(claims: CredentialClaims): Promise<string>;
}

/**
 * Issues short-lived mesh credentials as JWTs: `iss`, `sub` (user), `aud`, `iat`, `exp`, `jti`,
 * `tenant_id`, `permissions`, `request_id`, and for a tool call `tool`, `call_id`,
 * `idempotency_key`, for a task read `task_id`, for a delegation `on_behalf_of`.
 */
export function createCredentialIssuer(options: CredentialIssuerOptions): CredentialIssuer {
  const clock = options.clock ?? systemClock;
  const ttlSeconds = options.ttlSeconds ?? 60;
  return {
    issuer: options.issuer,
    async issue(claims) {
      const { kid, alg, key } = await options.signingKey();
      const now = Math.floor(clock.now() / 1000);
      const payload: Record<string, unknown> = {
        tenant_id: claims.principal.tenantId,
        permissions: [...claims.principal.permissions],
        request_id: claims.requestId,
      };
      if (claims.tool !== undefined) payload.tool = claims.tool;
      if (claims.callId !== undefined) payload.call_id = claims.callId;
      if (claims.idempotencyKey) payload.idempotency_key = claims.idempotencyKey;
      if (claims.taskId !== undefined) payload.task_id = claims.taskId;
      if (claims.onBehalfOf !== undefined) payload.on_behalf_of = claims.onBehalfOf;
      return signCompactJws(
        {
          iss: options.issuer,
          sub: claims.principal.userId,
          aud: claims.audience,
          iat: now,
          exp: now + ttlSeconds,
          jti: randomUUID(),
          ...payload,
        },
        { alg, kid, key },
      );
    },
  };
}

/** Options of {@link signingKeyFromFile}. */
export interface SigningKeyFileOptions {
  /** A JSON file holding one private JWK with kid and alg. */
  path: string;
  clock?: Clock;
  /** How often, at most, the file is checked for a new key; default 5 s. */
  checkEveryMs?: number;
}

/** The signing key in a file, re-read when the file changes (key rotation without a restart). */
export function signingKeyFromFile(options: SigningKeyFileOptions): () => Promise<SigningKey> {
  const file = createWatchedFile({
    path: options.path,
    clock: options.clock ?? systemClock,
    checkEveryMs: options.checkEveryMs,
    parse: (text) => importSigningKey(JSON.parse(text) as JWK),
  });
  return () => file.current();
}
