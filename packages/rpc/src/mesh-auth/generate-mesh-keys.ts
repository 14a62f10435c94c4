import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWK } from 'jose';

/** Private signing keys by issuer, and the public JWKS every verifier trusts. */
export interface MeshKeys {
  privateKeys: Record<string, JWK>;
  jwks: JSONWebKeySet;
}

/**
 * Makes one Ed25519 key pair per issuer, with key ids `<issuer>/<random>` (a verifier binds
 * the issuer to the key id's prefix). For `npm start`, tests, and operators bootstrapping a
 * deployment; production keys may come from anywhere that writes the same JWK files.
 */
export async function generateMeshKeys(issuers: readonly string[]): Promise<MeshKeys> {
  const privateKeys: Record<string, JWK> = {};
  const keys: JWK[] = [];
  for (const issuer of issuers) {
    const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const kid = `${issuer}/${randomBytes(6).toString('hex')}`;
    privateKeys[issuer] = { ...(await exportJWK(privateKey)), kid, alg: 'EdDSA', use: 'sig' };
    keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' });
  }
  return { privateKeys, jwks: { keys } };
}
