import { createHash } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';
import type { ApiKeys } from './config.ts';

/** Resolves an `authorization` header to the caller's principal. */
export type Authenticate = (authorization: string | null) => Principal | undefined;

const digest = (key: string) => createHash('sha256').update(key).digest('hex');

/**
 * API-key authentication. Keys are looked up by their SHA-256, so the lookup time
 * does not depend on how much of a guessed key matches.
 */
export function createApiKeyAuthenticator(keys: ApiKeys): Authenticate {
  const byDigest = new Map(
    Object.entries(keys).map(([key, p]) => [
      digest(key),
      create(PrincipalSchema, { userId: p.user_id, tenantId: p.tenant_id, permissions: p.permissions }),
    ]),
  );
  return (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return match?.[1] ? byDigest.get(digest(match[1])) : undefined;
  };
}
