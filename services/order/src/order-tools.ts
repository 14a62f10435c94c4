import { type Pool, queryWithDeadline } from '@toolmesh/db';
import { defineTool, type Tool, toolErrors } from '@toolmesh/tool-sdk';
import { z } from 'zod';
import {
  createExportOrderReport,
  type ExportOrderReportOptions,
  selectItems,
} from './export-order-report.ts';

interface OrderRow {
  order_id: string;
  status: string;
  pay_status: string;
  logistics_no: string | null;
  dispatch_node: string | null;
  invoice_ready: boolean;
  created_at: Date;
}

interface ItemRow {
  sku: string;
  name: string;
  quantity: number;
}

const getOrderDetailInput = z.strictObject({
  order_id: z
    .string()
    .regex(/^[0-9]{12}$/, 'must be a 12-digit order number')
    .describe('The 12-digit order number, e.g. "202604100018".'),
  include_items: z
    .boolean()
    .default(false)
    .describe('Also return the order lines (sku, name, quantity). Only ask for them when needed.'),
});

/** Options of {@link createOrderTools}. */
export type OrderToolsOptions = ExportOrderReportOptions;

/**
 * The order service's tools (export_order_report is async); every query is scoped to the
 * calling user of the calling tenant: the same user id in another tenant is another user.
 */
export function createOrderTools(pool: Pool, options: OrderToolsOptions = {}): Tool[] {
  const getOrderDetail = defineTool({
    name: 'get_order_detail',
    description:
      "Looks up one of the user's orders: status, payment status, logistics number, dispatch node, " +
      'invoice readiness and creation time, optionally with its items. Use it before answering any ' +
      'question about a specific order.',
    input: getOrderDetailInput,
    metadata: {
      sideEffect: 'read',
      permission: 'order:read',
      timeoutMs: 3_000,
      cacheTtlMs: 5_000,
      allowParallel: true,
      idempotent: true,
    },
    async handler(args, ctx) {
      const { userId, tenantId } = ctx.principal;
      const { rows } = await queryWithDeadline<OrderRow>(
        pool,
        ctx.remainingMs(),
        `SELECT order_id, status, pay_status, logistics_no, dispatch_node, invoice_ready, created_at
           FROM orders.orders
          WHERE order_id = $1 AND user_id = $2 AND tenant_id = $3`,
        [args.order_id, userId, tenantId],
      );
      const order = rows[0];
      // Someone else's order answers exactly like a missing one: no existence leak.
      if (!order) throw toolErrors.notFound(`order ${args.order_id} not found`);
      const detail = {
        order_id: order.order_id,
        status: order.status,
        pay_status: order.pay_status,
        logistics_no: order.logistics_no,
        dispatch_node: order.dispatch_node,
        invoice_ready: order.invoice_ready,
        created_at: order.created_at.toISOString(),
      };
      if (!args.include_items) return detail;
      const items = await queryWithDeadline<ItemRow>(pool, ctx.remainingMs(), selectItems, [
        order.order_id,
        userId,
        tenantId,
      ]);
      return {
        ...detail,
        items: items.rows.map((i) => ({ sku: i.sku, name: i.name, quantity: i.quantity })),
      };
    },
  });
  return [getOrderDetail, createExportOrderReport(pool, options)];
}
