import { KeyObject, sign, verify } from 'node:crypto';
import type { FlattenedJWSInput, JWTHeaderParameters } from 'jose';
import { ed25519Sign, ed25519Verify } from './ed25519.ts';

/*
 * The mesh credential's JWS, signed and verified synchronously: EdDSA with libsodium
 * (./ed25519.ts), ES256 with node:crypto's one-shot sign/verify. jose 6 signs and verifies
 * through WebCrypto only: an async job on libuv's pool for every credential, 0.16 ms to sign
 * and 0.24 ms to verify one here — and a tool call signs one and verifies one. jose still
 * resolves the keys (JWKS files, URLs, rotation); only the two hot operations are ours, for
 * the two algorithms the mesh allows.
 */

/** Signature algorithms of mesh credentials: asymmetric only, so verifiers hold no secret. */
export type MeshAlgorithm = 'EdDSA' | 'ES256';

/** A JWS that is not good; `claim` names the claim that failed, when one did. */
export class JwsError extends Error {
  readonly reason: 'malformed' | 'signature' | 'expired' | 'claim';
  readonly claim: string | undefined;
  constructor(reason: JwsError['reason'], claim?: string) {
    super(claim ? `${reason}: ${claim}` : reason);
    this.reason = reason;
    this.claim = claim;
  }
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

// ES256 signatures in a JWS are r‖s (IEEE P1363), not DER.
const es256Key = (key: KeyObject) => ({ key, dsaEncoding: 'ieee-p1363' as const });

/** Whether `key` is of the kind `alg` needs: a key of another kind must never verify. */
function fits(alg: MeshAlgorithm, key: KeyObject): boolean {
  if (alg === 'EdDSA') return key.asymmetricKeyType === 'ed25519';
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

/** The header part of a key's tokens, encoded once per key. */
const encodedHeaders = new WeakMap<KeyObject, string>();

/** A compact JWS of `payload` (a JWT with `typ: JWT`), signed with a private key. */
export function signCompactJws(
  payload: Record<string, unknown>,
  signer: { alg: MeshAlgorithm; kid: string; key: KeyObject },
): string {
  let header = encodedHeaders.get(signer.key);
  if (!header) {
    header = encode({ alg: signer.alg, kid: signer.kid, typ: 'JWT' });
    encodedHeaders.set(signer.key, header);
  }
  const input = `${header}.${encode(payload)}`;
  const bytes = Buffer.from(input);
  const signature =
    signer.alg === 'EdDSA' ? ed25519Sign(bytes, signer.key) : sign('sha256', bytes, es256Key(signer.key));
  return `${input}.${signature.toString('base64url')}`;
}

/** Finds the public key of a token by its header: a jose JWKS set, local or remote. */
export type JwsKeyResolver = (header: JWTHeaderParameters, token: FlattenedJWSInput) => Promise<unknown>;

/** jose's key sets hand out WebCrypto keys (the same object per key); node:crypto needs KeyObjects. */
const keyObjects = new WeakMap<object, KeyObject>();

function toKeyObject(key: unknown): KeyObject | undefined {
  if (key instanceof KeyObject) return key;
  if (typeof key !== 'object' || key === null) return undefined;
  let keyObject = keyObjects.get(key);
  if (!keyObject) {
    try {
      keyObject = KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
    } catch {
      return undefined;
    }
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

function parseJson(part: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new JwsError('malformed');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new JwsError('malformed');
  return value as Record<string, unknown>;
}

// A signer's tokens share one protected header (its key id and algorithm), so a verifier sees
// the same few encoded headers again and again: each is decoded once. Bounded, as the headers
// come from callers: one that sends a new header per call empties it, and only costs itself.
const decodedHeaders = new Map<string, JWTHeaderParameters>();
const maxDecodedHeaders = 64;

function decodeHeader(part: string): JWTHeaderParameters {
  let header = decodedHeaders.get(part);
  if (!header) {
    header = Object.freeze(parseJson(part)) as JWTHeaderParameters;
    if (decodedHeaders.size >= maxDecodedHeaders) decodedHeaders.clear();
    decodedHeaders.set(part, header);
  }
  return header;
}

/** A verified token's payload, with the registered claims {@link verifyCompactJws} checked. */
export type VerifiedClaims = Record<string, unknown> & { iss: string; sub: string; exp: number; iat: number };

/** What a verified token must also satisfy. */
export interface JwsClaimRules {
  algorithms: readonly MeshAlgorithm[];
  issuers: readonly string[];
  /** Seconds since the epoch. */
  now: number;
  clockToleranceSeconds: number;
}

/**
 * Verifies a compact JWS and the registered claims a mesh credential must carry (RFC 7519):
 * an allowed `alg` without `crit`, a key of that kind, the signature, then `sub`, `aud`, `iat`
 * present, `exp` not passed, `nbf` reached and `iss` one of `issuers`. Throws {@link JwsError}.
 */
export async function verifyCompactJws(
  token: string,
  keys: JwsKeyResolver,
  rules: JwsClaimRules,
): Promise<{ header: JWTHeaderParameters; payload: VerifiedClaims }> {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwsError('malformed');
  const [protectedPart = '', payloadPart = '', signaturePart = ''] = parts;
  const header = decodeHeader(protectedPart);
  const alg = rules.algorithms.find((allowed) => allowed === header.alg);
  // No extension we understand, so any `crit` (or an unencoded payload) makes it invalid (RFC 7515 §4.1.11).
  if (!alg || header.crit !== undefined || header.b64 !== undefined) throw new JwsError('malformed');
  let resolved: unknown;
  try {
    resolved = await keys(header, {
      protected: protectedPart,
      payload: payloadPart,
      signature: signaturePart,
    });
  } catch {
    throw new JwsError('signature');
  }
  const key = toKeyObject(resolved);
  if (key?.type !== 'public' || !fits(alg, key)) throw new JwsError('signature');
  const signature = Buffer.from(signaturePart, 'base64url');
  // Both algorithms sign 64 bytes; anything else is not one of their signatures.
  if (signature.length !== 64) throw new JwsError('signature');
  const input = Buffer.from(`${protectedPart}.${payloadPart}`);
  const good =
    alg === 'EdDSA'
      ? ed25519Verify(input, key, signature)
      : verify('sha256', input, es256Key(key), signature);
  if (!good) throw new JwsError('signature');

  const payload = parseJson(payloadPart);
  for (const claim of ['sub', 'aud', 'exp', 'iat']) {
    if (payload[claim] === undefined) throw new JwsError('claim', claim);
  }
  const { exp, nbf, iat, iss, sub } = payload;
  if (typeof exp !== 'number' || typeof iat !== 'number')
    throw new JwsError('claim', typeof exp !== 'number' ? 'exp' : 'iat');
  if (typeof sub !== 'string') throw new JwsError('claim', 'sub');
  if (exp <= rules.now - rules.clockToleranceSeconds) throw new JwsError('expired');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > rules.now + rules.clockToleranceSeconds)) {
    throw new JwsError('claim', 'nbf');
  }
  if (typeof iss !== 'string' || !rules.issuers.includes(iss)) throw new JwsError('claim', 'iss');
  return { header, payload: { ...payload, iss, sub, exp, iat } };
}
