import { Code, type Interceptor } from '@connectrpc/connect';
import { Health, reflectionV1, reflectionV1alpha } from '@toolmesh/proto';
import { publicError } from '../error-details.ts';
import { requestIdKey } from '../request-id-key.ts';
import type { CredentialVerifier } from './create-credential-verifier.ts';
import { credentialHeader, meshCredentialKey } from './mesh-credential.ts';

// Probes and grpcurl's reflection answer without a credential; they hold no user data.
const open = new Set([
  Health.typeName,
  reflectionV1.ServerReflection.typeName,
  reflectionV1alpha.ServerReflection.typeName,
]);

/**
 * The one server interceptor that admits calls inside the mesh: every call except health and
 * reflection must carry a mesh credential (`authorization: Bearer <jwt>`) that the verifier
 * accepts, before any handler runs. The credential goes into the handler context
 * ({@link meshCredentialKey}); its request id replaces whatever the caller's headers said.
 */
export function createMeshAuthInterceptor(verifier: CredentialVerifier): Interceptor {
  return (next) => async (req) => {
    if (open.has(req.service.typeName)) return next(req);
    const match = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/.exec(req.header.get(credentialHeader) ?? '');
    if (!match?.[1]) throw publicError(Code.Unauthenticated, 'missing mesh credential');
    const credential = await verifier.verify(match[1]);
    req.contextValues.set(meshCredentialKey, credential);
    if (credential.requestId) req.contextValues.set(requestIdKey, credential.requestId);
    return next(req);
  };
}
