import type { Interceptor } from '@connectrpc/connect';
import { createMeshAuthInterceptor, type KeyResolver, meshAudience, meshIssuer } from '@toolmesh/rpc';

/**
 * The mesh interceptor of an orchestrator stand-in: it admits what the gateway signs for the
 * orchestrator, as the real one does, so a test sees the hop's credential checked.
 */
export function acceptGatewayCredentials(keys: KeyResolver): Interceptor {
  return createMeshAuthInterceptor({
    keys,
    issuers: [meshIssuer.gateway],
    acceptsAudience: (audience) => audience === meshAudience.orchestrator,
  });
}
