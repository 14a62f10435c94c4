import { createPrivateKey, createPublicKey } from 'node:crypto';

const hex = (value: string) => Buffer.from(value, 'hex');
const seed = hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
const x = hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a').toString('base64url');

/** RFC 8032 §7.1, test 1: an Ed25519 key pair, the empty message, and its signature. */
export const rfc8032Test1 = {
  privateKey: createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', x, d: seed.toString('base64url') },
    format: 'jwk',
  }),
  publicKey: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' }),
  message: Buffer.alloc(0),
  signature: hex(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ),
};
