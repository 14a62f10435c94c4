import type { Migration } from '@toolmesh/db';
import { taskMigrations } from '@toolmesh/tool-sdk';

/** The schema holding every table of the order service. */
export const orderSchema = 'orders';

// Every statement names its schema: the embedded database multiplexes all
// connections onto one session, so a search_path would leak between services.
/** Forward-only migrations of the order service, demo data included; the SDK's task table is 900+. */
export const orderMigrations: Migration[] = [
  {
    version: 1,
    description: 'orders and their items',
    sql: `
      CREATE TABLE orders.orders (
        order_id text PRIMARY KEY,
        user_id text NOT NULL,
        tenant_id text NOT NULL,
        status text NOT NULL,
        pay_status text NOT NULL,
        logistics_no text,
        dispatch_node text,
        invoice_ready boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX orders_owner_idx ON orders.orders (tenant_id, user_id);
      CREATE TABLE orders.order_items (
        order_id text NOT NULL REFERENCES orders.orders (order_id) ON DELETE CASCADE,
        sku text NOT NULL,
        name text NOT NULL,
        quantity integer NOT NULL CHECK (quantity > 0),
        PRIMARY KEY (order_id, sku)
      );`,
  },
  {
    version: 2,
    description: 'demo orders',
    sql: `
      INSERT INTO orders.orders
        (order_id, user_id, tenant_id, status, pay_status, logistics_no, dispatch_node, invoice_ready, created_at)
      VALUES
        ('202604100018', 'u_1001', 't_demo', 'shipped', 'paid', 'SF1234567890', 'Shanghai-DC-03', false,
         '2026-04-10T08:12:00Z'),
        ('202604100042', 'u_2002', 't_demo', 'paid', 'paid', NULL, NULL, false, '2026-04-10T09:30:00Z')
      ON CONFLICT DO NOTHING;
      INSERT INTO orders.order_items (order_id, sku, name, quantity)
      VALUES
        ('202604100018', 'SKU-1001', 'Wireless Mouse', 1),
        ('202604100018', 'SKU-2002', 'USB-C Cable 2m', 2),
        ('202604100042', 'SKU-1001', 'Wireless Mouse', 1)
      ON CONFLICT DO NOTHING;`,
  },
  {
    // Tenants share nothing, order numbers included: each tenant numbers its own orders, and
    // an order line belongs to its tenant's order. Lines take their order's tenant (the
    // demo orders are t_demo's).
    version: 3,
    description: 'orders and their items keyed by tenant',
    sql: `
      ALTER TABLE orders.order_items ADD COLUMN tenant_id text;
      UPDATE orders.order_items i SET tenant_id = o.tenant_id
        FROM orders.orders o WHERE o.order_id = i.order_id;
      ALTER TABLE orders.order_items ALTER COLUMN tenant_id SET NOT NULL;
      ALTER TABLE orders.order_items DROP CONSTRAINT order_items_order_id_fkey;
      ALTER TABLE orders.order_items DROP CONSTRAINT order_items_pkey;
      ALTER TABLE orders.orders DROP CONSTRAINT orders_pkey;
      ALTER TABLE orders.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (tenant_id, order_id);
      ALTER TABLE orders.order_items ADD CONSTRAINT order_items_pkey PRIMARY KEY (tenant_id, order_id, sku);
      ALTER TABLE orders.order_items ADD CONSTRAINT order_items_order_fkey
        FOREIGN KEY (tenant_id, order_id) REFERENCES orders.orders (tenant_id, order_id) ON DELETE CASCADE;`,
  },
  ...taskMigrations(orderSchema),
];
