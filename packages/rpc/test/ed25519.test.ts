import { generateKeyPairSync, sign } from 'node:crypto';
import { ed25519Backend, ed25519Sign, ed25519Verify } from '../src/mesh-auth/ed25519.ts';
import { rfc8032Test1 } from './rfc8032-test-vector.ts';

// libsodium signs and verifies the mesh's EdDSA credentials; these pin that it is the same
// Ed25519 as OpenSSL's (RFC 8032), so a verifier in any language accepts what the mesh signs.

test('libsodium loads here: the fast path is the one measured and shipped', () => {
  expect(ed25519Backend).toBe('libsodium');
});

test('RFC 8032 test vector 1: the same signature, and it verifies', () => {
  const { privateKey, publicKey, message, signature } = rfc8032Test1;
  expect(ed25519Sign(message, privateKey).toString('hex')).toBe(signature.toString('hex'));
  expect(ed25519Verify(message, publicKey, signature)).toBe(true);
});

test('signs byte for byte as OpenSSL does, and verifies what OpenSSL signed', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  for (const size of [0, 1, 64, 600, 4096]) {
    const message = Buffer.alloc(size, size % 251);
    const ours = ed25519Sign(message, privateKey);
    const openssl = sign(null, message, privateKey);
    expect(ours.equals(openssl)).toBe(true);
    expect(ed25519Verify(message, publicKey, openssl)).toBe(true);
  }
});

test('refuses another message, a changed signature, another key and a signature of the wrong size', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519').publicKey;
  const message = Buffer.from('header.payload');
  const signature = ed25519Sign(message, privateKey);
  expect(ed25519Verify(Buffer.from('header.payloae'), publicKey, signature)).toBe(false);
  const flipped = Buffer.from(signature);
  flipped[10] = (flipped[10] ?? 0) ^ 1;
  expect(ed25519Verify(message, publicKey, flipped)).toBe(false);
  expect(ed25519Verify(message, other, signature)).toBe(false);
  expect(ed25519Verify(message, publicKey, signature.subarray(0, 63))).toBe(false);
  expect(ed25519Verify(message, publicKey, Buffer.concat([signature, Buffer.alloc(1)]))).toBe(false);
});
