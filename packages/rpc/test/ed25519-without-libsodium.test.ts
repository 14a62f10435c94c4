import { generateKeyPairSync } from 'node:crypto';
import { expect, jest, test } from '@jest/globals';
import { rfc8032Test1 } from './rfc8032-test-vector.ts';

// A platform sodium-native has no prebuilt binary for (musl, say): its import fails, and the
// mesh's Ed25519 stays on node:crypto with the same signatures.
jest.unstable_mockModule('sodium-native', () => {
  throw new Error('No native build was found for platform=linux arch=x64 libc=musl');
});
const { ed25519Backend, ed25519Sign, ed25519Verify } = await import('../src/mesh-auth/ed25519.ts');

test('falls back to OpenSSL, which signs and verifies the same', () => {
  expect(ed25519Backend).toBe('openssl');
  const { privateKey, publicKey, message, signature } = rfc8032Test1;
  expect(ed25519Sign(message, privateKey).equals(signature)).toBe(true);
  expect(ed25519Verify(message, publicKey, signature)).toBe(true);
  const other = generateKeyPairSync('ed25519').publicKey;
  expect(ed25519Verify(message, other, signature)).toBe(false);
  expect(ed25519Verify(message, publicKey, signature.subarray(0, 63))).toBe(false);
});
