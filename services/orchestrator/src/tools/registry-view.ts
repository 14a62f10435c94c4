import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import {
  BreakerState,
  type ListRegisteredToolsResponse,
  ListRegisteredToolsResponseSchema,
  type Principal,
} from '@toolmesh/proto';
import type { RegisteredTool, ToolRegistry } from './tool-registry.ts';

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
 * The registry as the principal sees it: every tool (during a rollout, each served version
 * with its share of conversations), whether the principal may run it and whether it is
 * available, and the refused tools with why (reasons name services and tools, never
 * addresses). Addresses, the endpoint list (with breaker states) and the policy file only
 * for operators holding {@link registryAdminPermission}; others get them empty ("on" for
 * the policy).
 */
export function describeRegistry(registry: ToolRegistry, principal: Principal): ListRegisteredToolsResponse {
  const operator = principal.permissions.includes(registryAdminPermission);
  const addressesOf = (endpoints: readonly { address: string }[]) =>
    operator ? endpoints.map((e) => e.address) : [];
  const available = (tool: RegisteredTool) => tool.endpoints.some((e) => e.available());
  const policy = registry.publishingPolicy?.() ?? '';
  return create(ListRegisteredToolsResponseSchema, {
    discovery: registry.discovery,
    publishingPolicy: policy && !operator ? 'on' : policy,
    // One entry per name: the version with the largest share, and every version during a rollout.
    tools: registry
      .list()
      .toSorted((a, b) => a.definition.name.localeCompare(b.definition.name))
      .map((tool) => {
        const permission = tool.definition.metadata?.permission ?? '';
        const rollout = tool.rollout ?? [];
        return {
          definition: tool.definition,
          addresses: addressesOf(tool.endpoints),
          permitted: !permission || principal.permissions.includes(permission),
          available: available(tool),
          version: tool.version ?? tool.definition.version,
          weight: Math.round(rollout.find((v) => v.tool === tool)?.weight ?? 100),
          services: [...(tool.services ?? [])],
          versions:
            rollout.length > 1
              ? rollout.map((v) => ({
                  version: v.version,
                  weight: Math.round(v.weight),
                  services: [...(v.tool.services ?? [])],
                  addresses: addressesOf(v.tool.endpoints),
                  available: available(v.tool),
                  inputSchemaJson: v.tool.definition.inputSchemaJson,
                }))
              : [],
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
