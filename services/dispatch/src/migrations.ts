import type { Migration } from '@toolmesh/db';

/** The schema holding every table of the dispatch service. */
export const dispatchSchema = 'dispatch';

// Every statement names its schema: the embedded database multiplexes all
// connections onto one session, so a search_path would leak between services.
/** Forward-only migrations of the dispatch service, demo data included. */
export const dispatchMigrations: Migration[] = [
  {
    version: 1,
    description: 'dispatch plans per order',
    sql: `
      CREATE TABLE dispatch.plans (
        order_id text PRIMARY KEY,
        user_id text NOT NULL,
        tenant_id text NOT NULL,
        dispatch_node text NOT NULL,
        carrier text NOT NULL,
        status text NOT NULL,
        logistics_no text,
        estimated_delivery date NOT NULL
      );
      CREATE INDEX plans_owner_idx ON dispatch.plans (tenant_id, user_id);`,
  },
  {
    version: 2,
    description: 'demo dispatch plans',
    sql: `
      INSERT INTO dispatch.plans
        (order_id, user_id, tenant_id, dispatch_node, carrier, status, logistics_no, estimated_delivery)
      VALUES
        ('202604100018', 'u_1001', 't_demo', 'Shanghai-DC-03', 'SF Express', 'in_transit', 'SF1234567890',
         '2026-04-13'),
        ('202604100042', 'u_2002', 't_demo', 'Shanghai-DC-03', 'SF Express', 'scheduled', NULL, '2026-04-15')
      ON CONFLICT DO NOTHING;`,
  },
  {
    // Tenants share nothing, order numbers included: a plan is its tenant's order's plan.
    version: 3,
    description: 'dispatch plans keyed by tenant',
    sql: `
      ALTER TABLE dispatch.plans DROP CONSTRAINT plans_pkey;
      ALTER TABLE dispatch.plans ADD CONSTRAINT plans_pkey PRIMARY KEY (tenant_id, order_id);`,
  },
];
