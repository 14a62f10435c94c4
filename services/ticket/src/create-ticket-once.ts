import { createHash, randomBytes } from 'node:crypto';
import { type Pool, withTransaction } from '@toolmesh/db';
import type { Principal } from '@toolmesh/proto';
import { toolErrors } from '@toolmesh/tool-sdk';
import { canonicalJson } from './canonical-json.ts';

/** The arguments of create_ticket, already validated. */
export interface NewTicket {
  order_id: string;
  category: string;
  description: string;
}

/** What create_ticket answers, and what a replay of its key answers again. */
export interface CreatedTicket {
  ticket_id: string;
  order_id: string;
  category: string;
  status: 'open';
  created_at: string;
}

const maxKeyLength = 200;

// 5 random bytes as upper-case hex: "T-" + 10 characters, as the schema checks.
const newTicketId = () => `T-${randomBytes(5).toString('hex').toUpperCase()}`;

/**
 * Creates a ticket at most once per (user, idempotency key). The key is claimed
 * first, in the same transaction as the ticket: a concurrent call with the same
 * key blocks on the claim until this one commits, then replays its response; if
 * this one rolls back, the waiting call takes over the key.
 */
export async function createTicketOnce(
  pool: Pool,
  principal: Principal,
  idempotencyKey: string,
  ticket: NewTicket,
): Promise<CreatedTicket> {
  if (idempotencyKey === '') throw toolErrors.invalidArgument('idempotency key required');
  if (idempotencyKey.length > maxKeyLength) {
    throw toolErrors.invalidArgument(`idempotency key longer than ${maxKeyLength} characters`);
  }
  const { userId, tenantId } = principal;
  const requestHash = createHash('sha256').update(canonicalJson(ticket)).digest('hex');

  return withTransaction(pool, async (client) => {
    const claim = await client.query(
      `INSERT INTO tickets.idempotency (user_id, idempotency_key, request_hash)
       VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
      [userId, idempotencyKey, requestHash],
    );
    if (claim.rowCount === 0) {
      const { rows } = await client.query<{ request_hash: string; response_json: CreatedTicket | null }>(
        `SELECT request_hash, response_json FROM tickets.idempotency
          WHERE user_id = $1 AND idempotency_key = $2`,
        [userId, idempotencyKey],
      );
      const stored = rows[0];
      // Only committed claims are visible and they always hold a response; this is a
      // race with a cleanup job at most, and trying again resolves it.
      if (!stored?.response_json) throw toolErrors.unavailable('ticket request in flux, retry');
      if (stored.request_hash !== requestHash) {
        throw toolErrors.conflict('idempotency key reused with different arguments');
      }
      return stored.response_json;
    }

    const inserted = await client.query<{ ticket_id: string; created_at: Date }>(
      `INSERT INTO tickets.tickets (ticket_id, user_id, tenant_id, order_id, category, description)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (tenant_id, user_id, order_id, category) WHERE status = 'open' DO NOTHING
       RETURNING ticket_id, created_at`,
      [newTicketId(), userId, tenantId, ticket.order_id, ticket.category, ticket.description],
    );
    const row = inserted.rows[0];
    // Throwing rolls the claim back too: a failed attempt leaves the key unused.
    if (!row) {
      throw toolErrors.failedPrecondition(`an open ${ticket.category} ticket already exists for this order`);
    }
    const response: CreatedTicket = {
      ticket_id: row.ticket_id,
      order_id: ticket.order_id,
      category: ticket.category,
      status: 'open',
      created_at: row.created_at.toISOString(),
    };
    await client.query(
      `UPDATE tickets.idempotency SET response_json = $3
        WHERE user_id = $1 AND idempotency_key = $2`,
      [userId, idempotencyKey, JSON.stringify(response)],
    );
    return response;
  });
}
