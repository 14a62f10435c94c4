import { defineTool, type Tool } from '@toolmesh/tool-sdk';
import { z } from 'zod';

/** Arguments the tool-hop benchmark sends: the shape of get_order_detail's. */
export const echoArguments = { order_id: '202604100018', include_items: true };

/** A read tool that answers its (validated) arguments: all of the SDK's checks, no work of its own. */
export function createEchoTool(): Tool {
  return defineTool({
    name: 'echo',
    description: 'Answers its arguments.',
    input: z.strictObject({
      order_id: z.string().regex(/^[0-9]{12}$/),
      include_items: z.boolean().default(false),
    }),
    metadata: { sideEffect: 'read', permission: 'bench:read', timeoutMs: 3_000 },
    handler: async (args) => args,
  });
}
