import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { ed25519Sign, ed25519Verify } from '../src/mesh-auth/ed25519.ts';

// libsodium signs and verifies the mesh's EdDSA credentials; these pin that it is the same
// Ed25519 as OpenSSL's (RFC 8032), so a verifier in any language accepts what the mesh signs.

const hex = (value: string) => Buffer.from(value, 'hex');
const jwkOf = (bytes: Buffer) => bytes.toString('base64url');

test('RFC 8032 test vector 1: the same signature, and it verifies', () => {
  const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const publicBytes = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const expected = hex(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  );
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: jwkOf(publicBytes), d: jwkOf(seed) };
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
  const empty = Buffer.alloc(0);
  expect(ed25519Sign(empty, privateKey).toString('hex')).toBe(expected.toString('hex'));
  expect(ed25519Verify(empty, publicKey, expected)).toBe(true);
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
