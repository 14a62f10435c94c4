import type { Migration } from '@toolmesh/db';

/** The schema holding every table of the inventory service. */
export const inventorySchema = 'inventory';

// Every statement names its schema: the embedded database multiplexes all
// connections onto one session, so a search_path would leak between services.
// Stock has no tenant on purpose: it is the catalogue of the one operator running the
// mesh, the same for every tenant and user, and holds nothing of theirs (no user, no order).
// A deployment where tenants keep stock of their own would key it by (tenant_id, sku) and
// filter by ctx.principal.tenantId, as the order, dispatch and ticket services do.
/** Forward-only migrations of the inventory service, demo data included. */
export const inventoryMigrations: Migration[] = [
  {
    version: 1,
    description: 'stock per sku',
    sql: `
      CREATE TABLE inventory.stock (
        sku text PRIMARY KEY,
        name text NOT NULL,
        available integer NOT NULL CHECK (available >= 0),
        restock_date date
      );`,
  },
  {
    version: 2,
    description: 'demo stock',
    sql: `
      INSERT INTO inventory.stock (sku, name, available, restock_date)
      VALUES
        ('SKU-1001', 'Wireless Mouse', 12, NULL),
        ('SKU-2002', 'USB-C Cable 2m', 0, '2026-12-05'),
        ('SKU-3003', 'Laptop Stand', 5, NULL)
      ON CONFLICT DO NOTHING;`,
  },
];
