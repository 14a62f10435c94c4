import type { Migration } from '@toolmesh/db';

/** The schema holding every table of the ticket service. */
export const ticketSchema = 'tickets';

// Every statement names its schema: the embedded database multiplexes all
// connections onto one session, so a search_path would leak between services.
/** Forward-only migrations of the ticket service. */
export const ticketMigrations: Migration[] = [
  {
    version: 1,
    description: 'tickets and idempotency records',
    sql: `
      CREATE TABLE tickets.tickets (
        ticket_id text PRIMARY KEY CHECK (ticket_id ~ '^T-[0-9A-Z]{10}$'),
        user_id text NOT NULL,
        tenant_id text NOT NULL,
        order_id text NOT NULL,
        category text NOT NULL CHECK (category IN ('invoice', 'refund', 'delivery', 'product', 'other')),
        description text NOT NULL,
        status text NOT NULL DEFAULT 'open',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- The business rule "one open ticket per order and category" held by the
      -- database, so concurrent requests with different keys cannot both pass it.
      CREATE UNIQUE INDEX tickets_one_open_idx
        ON tickets.tickets (tenant_id, user_id, order_id, category) WHERE status = 'open';
      CREATE INDEX tickets_owner_idx ON tickets.tickets (tenant_id, user_id, created_at DESC);
      -- response_json is json, not jsonb: a replay must answer byte for byte the
      -- first response, and jsonb would reorder its keys.
      CREATE TABLE tickets.idempotency (
        user_id text NOT NULL,
        idempotency_key text NOT NULL,
        request_hash text NOT NULL,
        response_json json,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, idempotency_key)
      );`,
  },
  {
    // An idempotency key is the caller's, and the caller is a user of a tenant: keyed by user
    // alone, the same user id in another tenant replayed this tenant's ticket. A stored
    // response names its ticket, whose tenant it takes; a record without one cannot be
    // committed (claim and response commit together), so none is lost by the DELETE.
    version: 2,
    description: 'idempotency records keyed by tenant',
    sql: `
      ALTER TABLE tickets.idempotency ADD COLUMN tenant_id text;
      UPDATE tickets.idempotency i SET tenant_id = t.tenant_id
        FROM tickets.tickets t
       WHERE t.ticket_id = i.response_json ->> 'ticket_id' AND t.user_id = i.user_id;
      DELETE FROM tickets.idempotency WHERE tenant_id IS NULL;
      ALTER TABLE tickets.idempotency ALTER COLUMN tenant_id SET NOT NULL;
      ALTER TABLE tickets.idempotency DROP CONSTRAINT idempotency_pkey;
      ALTER TABLE tickets.idempotency ADD CONSTRAINT idempotency_pkey
        PRIMARY KEY (tenant_id, user_id, idempotency_key);`,
  },
];
