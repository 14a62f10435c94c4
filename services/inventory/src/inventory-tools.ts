import { type Pool, queryWithDeadline } from '@toolmesh/db';
import { defineTool, type Tool } from '@toolmesh/tool-sdk';
import { z } from 'zod';

interface StockRow {
  sku: string;
  name: string;
  available: number;
  restock_date: string | null;
}

const getInventorySnapshotInput = z.strictObject({
  skus: z
    .array(
      z
        .string()
        .regex(/^[A-Z0-9-]{1,32}$/, 'must be an upper-case SKU such as "SKU-1001"')
        .describe('A SKU, e.g. "SKU-1001".'),
    )
    .min(1)
    .max(50)
    .describe("The SKUs to look up, e.g. the skus of an order's items (1 to 50)."),
});

/**
 * The inventory service's tools; stock is catalogue data, the same for every user of every
 * tenant (see the migrations), so no query here reads the principal.
 */
export function createInventoryTools(pool: Pool): Tool[] {
  const getInventorySnapshot = defineTool({
    name: 'get_inventory_snapshot',
    description:
      'Current stock of the given SKUs: name, units available and, when out of stock, the expected ' +
      'restock date. Use it to tell whether an item can ship or when it will be back.',
    input: getInventorySnapshotInput,
    metadata: {
      sideEffect: 'read',
      permission: 'inventory:read',
      timeoutMs: 3_000,
      cacheTtlMs: 2_000,
    },
    async handler(args, ctx) {
      const skus = [...new Set(args.skus)];
      // to_char keeps the date a calendar date; pg would turn it into a local-time Date.
      const { rows } = await queryWithDeadline<StockRow>(
        pool,
        ctx.remainingMs(),
        `SELECT sku, name, available, to_char(restock_date, 'YYYY-MM-DD') AS restock_date
           FROM inventory.stock
          WHERE sku = ANY($1::text[])`,
        [skus],
      );
      const bySku = new Map(rows.map((r) => [r.sku, r]));
      const items: StockRow[] = [];
      const unknownSkus: string[] = [];
      for (const sku of skus) {
        const row = bySku.get(sku);
        if (row) {
          items.push({ sku, name: row.name, available: row.available, restock_date: row.restock_date });
        } else {
          unknownSkus.push(sku);
        }
      }
      return { items, unknown_skus: unknownSkus };
    },
  });
  return [getInventorySnapshot];
}
