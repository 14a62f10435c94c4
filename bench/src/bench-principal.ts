import { create } from '@bufbuild/protobuf';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';

/** The end user of the tool-hop calls; holds the echo tool's permission. */
export const benchPrincipal: Principal = create(PrincipalSchema, {
  userId: 'u_bench',
  tenantId: 't_bench',
  permissions: ['bench:read'],
});
