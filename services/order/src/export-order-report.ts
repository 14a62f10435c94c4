import { type Clock, systemClock } from '@toolmesh/clock';
import { type Pool, queryWithDeadline } from '@toolmesh/db';
import { type AsyncTool, defineAsyncTool, toolErrors } from '@toolmesh/tool-sdk';
import { z } from 'zod';

interface ReportOrderRow {
  order_id: string;
  status: string;
  pay_status: string;
  logistics_no: string | null;
  created_at: Date;
}

interface ReportItemRow {
  sku: string;
  name: string;
  quantity: number;
}

const exportOrderReportInput = z.strictObject({
  order_id: z
    .string()
    .regex(/^[0-9]{12}$/, 'must be a 12-digit order number')
    .describe('The 12-digit order number, e.g. "202604100018".'),
  format: z.enum(['csv', 'json']).default('csv').describe('Report format; default "csv".'),
});

/**
 * SQL of the lines of one order, owner checked again in the same statement: no query of a
 * user's data reads by order number alone (order numbers are unique per tenant only).
 */
export const selectItems = `
  SELECT i.sku, i.name, i.quantity
    FROM orders.order_items i
    JOIN orders.orders o ON o.tenant_id = i.tenant_id AND o.order_id = i.order_id
   WHERE i.order_id = $1 AND o.user_id = $2 AND o.tenant_id = $3
   ORDER BY i.sku`;

// Each statement of a task gets this long: a task has no caller deadline to inherit.
const statementMs = 5_000;

const csvColumns = ['order_id', 'status', 'pay_status', 'logistics_no', 'sku', 'name', 'quantity'] as const;

// RFC 4180 quoting, and a leading quote on cells a spreadsheet would run as a formula.
function csvCell(value: string | number | null): string {
  let text = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function toCsv(order: ReportOrderRow, items: ReportItemRow[]): string {
  const lines = [csvColumns.join(',')];
  for (const item of items) {
    const row = [
      order.order_id,
      order.status,
      order.pay_status,
      order.logistics_no,
      item.sku,
      item.name,
      item.quantity,
    ];
    lines.push(row.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Options of {@link createExportOrderReport}. */
export interface ExportOrderReportOptions {
  /** Times the export's pauses; default the system clock. */
  clock?: Clock;
}

/**
 * export_order_report: an async tool. The call checks at once that the order is the
 * caller's (so the model hears NOT_FOUND immediately) and answers with a task_id;
 * the report is built by the task worker, as the same user.
 */
export function createExportOrderReport(pool: Pool, options: ExportOrderReportOptions = {}): AsyncTool {
  const clock = options.clock ?? systemClock;
  async function findOrder(orderId: string, userId: string, tenantId: string, remainingMs: number) {
    const { rows } = await queryWithDeadline<ReportOrderRow>(
      pool,
      remainingMs,
      `SELECT order_id, status, pay_status, logistics_no, created_at
         FROM orders.orders
        WHERE order_id = $1 AND user_id = $2 AND tenant_id = $3`,
      [orderId, userId, tenantId],
    );
    // Someone else's order answers exactly like a missing one: no existence leak.
    if (!rows[0]) throw toolErrors.notFound(`order ${orderId} not found`);
    return rows[0];
  }

  return defineAsyncTool({
    name: 'export_order_report',
    description:
      "Exports one of the user's orders with its items as a CSV or JSON report. It answers at once " +
      'with a task_id and status "queued"; the report (order_id, format, content, rows) is the result ' +
      'of that task. Use it only when the user asks for a report or export of an order.',
    input: exportOrderReportInput,
    metadata: {
      sideEffect: 'read',
      permission: 'order:read',
      timeoutMs: 3_000,
      idempotent: true,
      allowParallel: true,
    },
    maxAttempts: 3,
    runTimeoutMs: 30_000,
    async precheck(args, ctx) {
      const { userId, tenantId } = ctx.principal;
      await findOrder(args.order_id, userId, tenantId, ctx.remainingMs());
    },
    async run(args, ctx) {
      const { userId, tenantId } = ctx.principal;
      await ctx.reportProgress(10);
      // The order is checked again: it may have changed hands since the call.
      const order = await findOrder(args.order_id, userId, tenantId, statementMs);
      const items = await queryWithDeadline<ReportItemRow>(pool, statementMs, selectItems, [
        order.order_id,
        userId,
        tenantId,
      ]);
      // Short pauses stand in for a slow export, so progress can be watched.
      await clock.sleep(100, ctx.signal);
      await ctx.reportProgress(50);
      const content =
        args.format === 'csv'
          ? toCsv(order, items.rows)
          : JSON.stringify({
              order: { ...order, created_at: order.created_at.toISOString() },
              items: items.rows,
            });
      await clock.sleep(100, ctx.signal);
      await ctx.reportProgress(100);
      return { order_id: order.order_id, format: args.format, content, rows: items.rows.length };
    },
  });
}
