import type { Migration } from '@toolmesh/db';

/** The schema holding every table of the inventory service. */
export const inventorySchema = 'inventory';

// Every statement names its schema: the embedded database multiplexes all
// connections onto one session, so a search_path would leak between services.
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
