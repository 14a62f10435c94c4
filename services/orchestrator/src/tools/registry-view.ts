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
 * The registry as the principal sees it: every served version of every tool with its
 * share of conversations, whether the principal may run it and whether it is available,
 * and the refused tools with why (reasons name services and tools, never addresses). Addresses and the endpoint list (with breaker states)
 * only for operators holding {@link registryAdminPermission}; others get them empty.
 */
export function describeRegistry(registry: ToolRegistry, principal: Principal): ListRegisteredToolsResponse {
  const operator = principal.permissions.includes(registryAdminPermission);
  const addressesOf = (endpoints: readonly { address: string }[]) =>
    operator ? endpoints.map((e) => e.address) : [];
  // One entry per served version of a name, oldest first.
  const served = registry
    .list()
    .sort((a, b) => a.definition.name.localeCompare(b.definition.name))
    .flatMap(
      (tool) => tool.rollout?.map((v) => ({ tool: v.tool, weight: v.weight })) ?? [{ tool, weight: 100 }],
    );
  return create(ListRegisteredToolsResponseSchema, {
    discovery: registry.discovery,
    publishingPolicy: registry.publishingPolicy?.() ?? '',
    tools: served.map(({ tool, weight }) => {
      const permission = tool.definition.metadata?.permission ?? '';
      return {
        definition: tool.definition,
        addresses: addressesOf(tool.endpoints),
        permitted: !permission || principal.permissions.includes(permission),
        available: tool.endpoints.some((e) => e.available()),
        version: tool.version ?? tool.definition.version,
        weight: Math.round(weight),
        services: [...(tool.services ?? [])],
      };
    }),
    refusedTools: (registry.refused?.() ?? [])
      .map((r) => ({
        name: r.name,
        version: r.version,
        reason: r.reason,
        services: [...r.services],
        addresses: operator ? [...r.addresses] : [],
      }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version)),
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
