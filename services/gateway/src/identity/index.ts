export {
  type ApiKeyPrincipal,
  type ApiKeys,
  jwtShape,
  parseApiKeys,
  presentedKeyDigest,
  storedKeyDigest,
} from './api-keys.ts';
export { type ApiKeySource, createApiKeyVerifier, type TokenVerifier } from './create-api-key-verifier.ts';
export {
  type ApiKeySettings,
  createEdgeAuthenticator,
  type EdgeAuthenticatorOptions,
  type EdgeIdentitySettings,
  type JwtSettings,
} from './create-edge-authenticator.ts';
export { createJwksFileKeySet, type JwksFileKeySetOptions, parseJwks } from './create-jwks-file-key-set.ts';
export { allowedJwtAlgorithms, createJwtVerifier, type JwtVerifierOptions } from './create-jwt-verifier.ts';
export {
  createReloadingFile,
  type ReloadingFile,
  type ReloadingFileOptions,
} from './create-reloading-file.ts';
export { type ClaimMapping, principalFromClaims } from './principal-from-claims.ts';
