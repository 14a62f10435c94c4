import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import {
  BreakerState,
  type ListRegisteredToolsResponse,
  ListRegisteredToolsResponseSchema,
  type Principal,
} from '@toolmesh/proto';
import type { ToolRegistry } from './tool-registry.ts';

const breakerStates = {
  closed: BreakerState.CLOSED,
  open: BreakerState.OPEN,
  'half-open': BreakerState.HALF_OPEN,
} as const;

/**
 * The permission that shows where the tools run. Endpoint addresses map the internal
 * network (and the breaker states its health), which helps an attacker more than a
 * user: only operators holding this permission see them.
 */
export const registryAdminPermission = 'registry:admin';

/**
 * The registry as the principal sees it: every tool, whether the principal may run it
 * and whether it is available. Addresses and the endpoint list (with breaker states)
 * only for operators holding {@link registryAdminPermission}; others get them empty.
 */
export function describeRegistry(registry: ToolRegistry, principal: Principal): ListRegisteredToolsResponse {
  const operator = principal.permissions.includes(registryAdminPermission);
  return create(ListRegisteredToolsResponseSchema, {
    discovery: registry.discovery,
    tools: registry
      .list()
      .sort((a, b) => a.definition.name.localeCompare(b.definition.name))
      .map((tool) => {
        const permission = tool.definition.metadata?.permission ?? '';
        return {
          definition: tool.definition,
          addresses: operator ? tool.endpoints.map((e) => e.address) : [],
          permitted: !permission || principal.permissions.includes(permission),
          available: tool.endpoints.some((e) => e.available()),
        };
      }),
    endpoints: operator
      ? registry.endpoints().map(({ endpoint, tools }) => ({
          address: endpoint.address,
          breakerState: breakerStates[endpoint.state()],
          retryAfter: durationFromMs(endpoint.retryAfterMs()),
          reachable: tools !== undefined,
          tools: (tools ?? []).map((t) => t.name),
        }))
      : [],
  });
}
