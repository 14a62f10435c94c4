import { type KeyObject, sign, verify } from 'node:crypto';

/*
 * Ed25519 (RFC 8032) through libsodium instead of node:crypto's OpenSSL. Every tool call signs
 * one mesh credential and verifies one, and so does every chat on the gateway → orchestrator
 * hop: on this project's machines OpenSSL took 49 µs to sign and 127 µs to verify one, libsodium
 * 21 µs and 54 µs. Ed25519 signatures are deterministic, so the bytes are the same as OpenSSL's
 * (a test holds both to it) and any verifier of another language accepts them. The keys stay
 * node:crypto KeyObjects everywhere else; their raw bytes are taken out once per key.
 *
 * sodium-native ships prebuilt binaries for glibc Linux, macOS and Windows. Where none loads
 * (musl, say), signing and verifying stay on node:crypto: slower, the same signatures.
 */
type Sodium = typeof import('sodium-native');
const sodium: Sodium | undefined = await import('sodium-native').then(
  (module) => module.default,
  () => undefined,
);

/** Which library signs and verifies the mesh's Ed25519 credentials in this process. */
export const ed25519Backend: 'libsodium' | 'openssl' = sodium ? 'libsodium' : 'openssl';

const signatureBytes = 64;
const rawPublicKeys = new WeakMap<KeyObject, Buffer>();
const rawSecretKeys = new WeakMap<KeyObject, Buffer>();

function jwkPart(key: KeyObject, part: 'x' | 'd'): Buffer {
  const value = key.export({ format: 'jwk' })[part];
  if (typeof value !== 'string') throw new Error(`not an Ed25519 ${part === 'd' ? 'private' : 'public'} key`);
  return Buffer.from(value, 'base64url');
}

function secretKeyOf(lib: Sodium, key: KeyObject): Buffer {
  let secretKey = rawSecretKeys.get(key);
  if (!secretKey) {
    // libsodium's secret key is the 32-byte seed (the JWK's `d`) followed by the public key,
    // kept in libsodium's guarded memory; the seed's copy is wiped once it is derived.
    const seed = jwkPart(key, 'd');
    secretKey = lib.sodium_malloc(lib.crypto_sign_SECRETKEYBYTES);
    lib.crypto_sign_seed_keypair(Buffer.alloc(lib.crypto_sign_PUBLICKEYBYTES), secretKey, seed);
    lib.sodium_memzero(seed);
    rawSecretKeys.set(key, secretKey);
  }
  return secretKey;
}

function publicKeyOf(key: KeyObject): Buffer {
  let publicKey = rawPublicKeys.get(key);
  if (!publicKey) {
    publicKey = jwkPart(key, 'x');
    rawPublicKeys.set(key, publicKey);
  }
  return publicKey;
}

/** The 64-byte Ed25519 signature of `message` with a private KeyObject of type ed25519. */
export function ed25519Sign(message: Buffer, privateKey: KeyObject): Buffer {
  if (!sodium) return sign(null, message, privateKey);
  const signature = Buffer.alloc(signatureBytes);
  sodium.crypto_sign_detached(signature, message, secretKeyOf(sodium, privateKey));
  return signature;
}

/** Whether `signature` is `message`'s Ed25519 signature by a public KeyObject of type ed25519. */
export function ed25519Verify(message: Buffer, publicKey: KeyObject, signature: Buffer): boolean {
  if (signature.length !== signatureBytes) return false;
  if (!sodium) return verify(null, message, publicKey, signature);
  const raw = publicKeyOf(publicKey);
  return (
    raw.length === sodium.crypto_sign_PUBLICKEYBYTES &&
    sodium.crypto_sign_verify_detached(signature, message, raw)
  );
}
