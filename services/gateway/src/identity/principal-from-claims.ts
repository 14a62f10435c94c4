import { create } from '@bufbuild/protobuf';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';
import { Code, publicError } from '@toolmesh/rpc';
import type { JWTPayload } from 'jose';

/** Which claims of a verified JWT name the user, the tenant and the permissions. */
export interface ClaimMapping {
  /** Default `sub`. */
  user?: string;
  /** Default `tenant_id`. */
  tenant?: string;
  /**
   * A claim holding an array of permissions or a space-separated string of them. Default:
   * `permissions` (an array) if present, else `scope` (space-separated, OAuth 2.0).
   */
  permissions?: string;
}

// Ids end up in keys, logs and audit records: printable, bounded.
const validId = (value: unknown): string | undefined => {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  return /[\u0000-\u001f\u007f]/.test(value) ? undefined : value;
};

const permissionList = (value: unknown): string[] => {
  const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(' ') : [];
  return items.filter((p): p is string => typeof p === 'string' && p.length > 0 && p.length <= 256);
};

/**
 * The principal of a verified token. A token without a usable user or tenant is
 * UNAUTHENTICATED with a message naming the claim (configuration the token's issuer needs
 * to know, nothing internal).
 */
export function principalFromClaims(payload: JWTPayload, mapping: ClaimMapping = {}): Principal {
  const userClaim = mapping.user ?? 'sub';
  const tenantClaim = mapping.tenant ?? 'tenant_id';
  const userId = validId(payload[userClaim]);
  if (!userId) throw publicError(Code.Unauthenticated, `the token names no user (claim "${userClaim}")`);
  const tenantId = validId(payload[tenantClaim]);
  if (!tenantId) {
    throw publicError(Code.Unauthenticated, `the token names no tenant (claim "${tenantClaim}")`);
  }
  const permissions = mapping.permissions
    ? permissionList(payload[mapping.permissions])
    : payload.permissions !== undefined
      ? permissionList(payload.permissions)
      : permissionList(payload.scope);
  return create(PrincipalSchema, { userId, tenantId, permissions: [...new Set(permissions)] });
}
