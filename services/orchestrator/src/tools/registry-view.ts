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

/** The registry as the principal sees it: every tool and endpoint, with breaker states. */
export function describeRegistry(registry: ToolRegistry, principal: Principal): ListRegisteredToolsResponse {
  return create(ListRegisteredToolsResponseSchema, {
    discovery: registry.discovery,
    tools: registry
      .list()
      .sort((a, b) => a.definition.name.localeCompare(b.definition.name))
      .map((tool) => {
        const permission = tool.definition.metadata?.permission ?? '';
        return {
          definition: tool.definition,
          addresses: tool.endpoints.map((e) => e.address),
          permitted: !permission || principal.permissions.includes(permission),
          available: tool.endpoints.some((e) => e.available()),
        };
      }),
    endpoints: registry.endpoints().map(({ endpoint, tools }) => ({
      address: endpoint.address,
      breakerState: breakerStates[endpoint.state()],
      retryAfter: durationFromMs(endpoint.retryAfterMs()),
      reachable: tools !== undefined,
      tools: (tools ?? []).map((t) => t.name),
    })),
  });
}
