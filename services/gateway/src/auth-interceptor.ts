import { createContextKey } from '@connectrpc/connect';
import type { Principal } from '@toolmesh/proto';
import { Code, type Interceptor, isOpenService, publicError } from '@toolmesh/rpc';
import type { Authenticate } from './authenticate.ts';

/** Where the verified principal travels from the interceptor to the handlers. */
export const principalKey = createContextKey<Principal | undefined>(undefined, { description: 'principal' });

/**
 * Authenticates every call except health and reflection. A refused credential gets one
 * message whatever the reason (unknown key, bad signature, wrong issuer, expired), so a
 * caller learns nothing about which keys or issuers exist; the reason goes to the log.
 */
export function createAuthInterceptor(authenticate: Authenticate): Interceptor {
  return (next) => async (req) => {
    if (!isOpenService(req.service.typeName)) {
      const principal = await authenticate(req.header.get('authorization'));
      if (!principal) {
        throw publicError(
          Code.Unauthenticated,
          'missing or invalid credential: send "authorization: Bearer <API key or JWT>"',
        );
      }
      req.contextValues.set(principalKey, principal);
    }
    return next(req);
  };
}
