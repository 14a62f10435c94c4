import type { KeyObject } from 'node:crypto';
import sodium from 'sodium-native';

/*
 * Ed25519 (RFC 8032) through libsodium instead of node:crypto's OpenSSL. Every tool call signs
 * one mesh credential and verifies one, and so does every chat on the gateway → orchestrator
 * hop: on this project's machines OpenSSL took 49 µs to sign and 127 µs to verify one, libsodium
 * 21 µs and 54 µs. Ed25519 signatures are deterministic, so the bytes are the same as OpenSSL's
 * (a test holds both to it) and any verifier of another language accepts them. The keys stay
 * node:crypto KeyObjects everywhere else; their raw bytes are taken out once per key.
 */

const rawPublicKeys = new WeakMap<KeyObject, Buffer>();
const rawSecretKeys = new WeakMap<KeyObject, Buffer>();

function jwkPart(key: KeyObject, part: 'x' | 'd'): Buffer {
  const value = key.export({ format: 'jwk' })[part];
  if (typeof value !== 'string') throw new Error(`not an Ed25519 ${part === 'd' ? 'private' : 'public'} key`);
  return Buffer.from(value, 'base64url');
}

function secretKeyOf(key: KeyObject): Buffer {
  let secretKey = rawSecretKeys.get(key);
  if (!secretKey) {
    // libsodium's secret key is the 32-byte seed (the JWK's `d`) followed by the public key.
    secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES);
    sodium.crypto_sign_seed_keypair(
      Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES),
      secretKey,
      jwkPart(key, 'd'),
    );
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
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES);
  sodium.crypto_sign_detached(signature, message, secretKeyOf(privateKey));
  return signature;
}

/** Whether `signature` is `message`'s Ed25519 signature by a public KeyObject of type ed25519. */
export function ed25519Verify(message: Buffer, publicKey: KeyObject, signature: Buffer): boolean {
  const raw = publicKeyOf(publicKey);
  if (signature.length !== sodium.crypto_sign_BYTES || raw.length !== sodium.crypto_sign_PUBLICKEYBYTES) {
    return false;
  }
  return sodium.crypto_sign_verify_detached(signature, message, raw);
}
