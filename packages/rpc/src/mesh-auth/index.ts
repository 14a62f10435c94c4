export {
  type CredentialIssuer,
  type CredentialIssuerOptions,
  createCredentialIssuer,
  importSigningKey,
  meshAlgorithms,
  type SigningKey,
  type SigningKeyFileOptions,
  signingKeyFromFile,
} from './create-credential-issuer.ts';
export {
  type CredentialVerifier,
  type CredentialVerifierOptions,
  createCredentialVerifier,
} from './create-credential-verifier.ts';
export { createMeshAuthInterceptor } from './create-mesh-auth-interceptor.ts';
export { generateMeshKeys, type MeshKeys } from './generate-mesh-keys.ts';
export { loadSigningKey, loadVerificationKeys } from './load-mesh-keys.ts';
export {
  type CredentialClaims,
  type CredentialScope,
  credentialHeader,
  credentialHeaders,
  delegationHeader,
  type MeshCredential,
  meshAudience,
  meshCredentialKey,
  meshIssuer,
  registryPrincipal,
  requireCredential,
} from './mesh-credential.ts';
export {
  type JwksFileOptions,
  jwksFrom,
  jwksFromFile,
  jwksFromKeys,
  jwksFromUrl,
  type KeyResolver,
} from './verification-keys.ts';
export { createWatchedFile, type WatchedFile, type WatchedFileOptions } from './watched-file.ts';
export { type MeshKeyFiles, writeMeshKeyFiles } from './write-mesh-key-files.ts';
