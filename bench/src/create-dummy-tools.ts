import { defineTool, type Tool } from '@toolmesh/tool-sdk';
import { z } from 'zod';

/**
 * `count` read tools with realistic descriptions and schemas, so the registry, the
 * prompt and the model request grow as they would with that many real tools.
 */
export function createDummyTools(count: number, permission: string): Tool[] {
  return Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(4, '0');
    return defineTool({
      name: `bench_lookup_${n}`,
      description: `Looks up record set ${n} of the benchmark catalogue by id; use it only for set ${n}.`,
      input: z.strictObject({
        record_id: z.string().min(1).max(64).describe('The id of the record.'),
        limit: z.number().int().min(1).max(100).optional().describe('How many records to return.'),
      }),
      metadata: { sideEffect: 'read', permission },
      handler: async (args) => ({ record_id: args.record_id, found: false }),
    });
  });
}
