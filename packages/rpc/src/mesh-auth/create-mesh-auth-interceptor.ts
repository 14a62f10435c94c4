import { Code, type Interceptor } from '@connectrpc/connect';
import { publicError } from '../error-details.ts';
import { isOpenService } from '../open-services.ts';
import { requestIdKey } from '../request-id-key.ts';
import { type CredentialVerifierOptions, createCredentialVerifier } from './create-credential-verifier.ts';
import { credentialHeader, meshCredentialKey } from './mesh-credential.ts';

/**
 * The one server interceptor that admits calls inside the mesh: every call except health and
 * reflection must carry a mesh credential (`authorization: Bearer <jwt>`) that a verifier with
 * these options accepts (issuers, audiences, keys), before any handler runs. The credential goes into the handler context
 * ({@link meshCredentialKey}); its request id replaces whatever the caller's headers said.
 */
export function createMeshAuthInterceptor(options: CredentialVerifierOptions): Interceptor {
  const verifier = createCredentialVerifier(options);
  return (next) => async (req) => {
    if (isOpenService(req.service.typeName)) return next(req);
    const match = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/.exec(req.header.get(credentialHeader) ?? '');
    if (!match?.[1]) throw publicError(Code.Unauthenticated, 'missing mesh credential');
    const credential = await verifier.verify(match[1]);
    req.contextValues.set(meshCredentialKey, credential);
    if (credential.requestId) req.contextValues.set(requestIdKey, credential.requestId);
    return next(req);
  };
}
