import { createContextKey } from '@connectrpc/connect';
import { ChatService, type Principal } from '@toolmesh/proto';
import { Code, type Interceptor, publicError } from '@toolmesh/rpc';
import type { Authenticate } from './authenticate.ts';

/** Where the verified principal travels from the interceptor to the handlers. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'principal' });

/**
 * Authenticates every ChatService call; health and reflection stay open so
 * probes and grpcurl work without a key.
 */
export function createAuthInterceptor(authenticate: Authenticate): Interceptor {
  return (next) => async (req) => {
    if (req.service.typeName === ChatService.typeName) {
      const principal = authenticate(req.header.get('authorization'));
      if (!principal) {
        throw publicError(
          Code.Unauthenticated,
          'missing or unknown API key: send "authorization: Bearer <key>"',
        );
      }
      req.contextValues.set(principalKey, principal);
    }
    return next(req);
  };
}
