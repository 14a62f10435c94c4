import { type Pool, queryWithDeadline } from '@toolmesh/db';
import { defineTool, type Tool, toolErrors } from '@toolmesh/tool-sdk';
import { z } from 'zod';

interface PlanRow {
  order_id: string;
  dispatch_node: string;
  carrier: string;
  status: string;
  logistics_no: string | null;
  estimated_delivery: string;
}

const getDispatchPlanInput = z.strictObject({
  order_id: z
    .string()
    .regex(/^[0-9]{12}$/, 'must be a 12-digit order number')
    .describe('The 12-digit order number, e.g. "202604100018".'),
});

/**
 * The dispatch service's tools; every query is scoped to the calling user of the calling
 * tenant: the same user id in another tenant is another user.
 */
export function createDispatchTools(pool: Pool): Tool[] {
  const getDispatchPlan = defineTool({
    name: 'get_dispatch_plan',
    description:
      "The dispatch plan of one of the user's orders: dispatch node, carrier, shipping status, " +
      'logistics number and estimated delivery date. Use it for "where is my parcel / when will it arrive".',
    input: getDispatchPlanInput,
    metadata: { sideEffect: 'read', permission: 'dispatch:read', timeoutMs: 3_000 },
    async handler(args, ctx) {
      const { userId, tenantId } = ctx.principal;
      // to_char keeps the date a calendar date; pg would turn it into a local-time Date.
      const { rows } = await queryWithDeadline<PlanRow>(
        pool,
        ctx.remainingMs(),
        `SELECT order_id, dispatch_node, carrier, status, logistics_no,
                to_char(estimated_delivery, 'YYYY-MM-DD') AS estimated_delivery
           FROM dispatch.plans
          WHERE order_id = $1 AND user_id = $2 AND tenant_id = $3`,
        [args.order_id, userId, tenantId],
      );
      const plan = rows[0];
      // Someone else's plan answers exactly like a missing one: no existence leak.
      if (!plan) throw toolErrors.notFound(`no dispatch plan found for order ${args.order_id}`);
      return {
        order_id: plan.order_id,
        dispatch_node: plan.dispatch_node,
        carrier: plan.carrier,
        status: plan.status,
        logistics_no: plan.logistics_no,
        estimated_delivery: plan.estimated_delivery,
      };
    },
  });
  return [getDispatchPlan];
}
