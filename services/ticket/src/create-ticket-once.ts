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

/** Options of {@link createTicketOnce}. */
export interface CreateTicketOnceOptions {
  /**
   * Business checks of a new request: they run only when the key holds no stored
   * response, before the transaction (never holding it open across a network call).
   * Throwing stops the creation and leaves the key unused.
   */
  precheck?: () => Promise<void>;
}

interface StoredResponse {
  request_hash: string;
  response_json: CreatedTicket | null;
}

const maxKeyLength = 200;

// 5 random bytes as upper-case hex: "T-" + 10 characters, as the schema checks.
const newTicketId = () => `T-${randomBytes(5).toString('hex').toUpperCase()}`;

// A committed claim always holds a response (only committed claims are visible);
// a missing one is a race with a cleanup job at most, and trying again resolves it.
function replay(stored: StoredResponse, requestHash: string): CreatedTicket {
  if (!stored.response_json) throw toolErrors.unavailable('ticket request in flux, retry');
  if (stored.request_hash !== requestHash) {
    throw toolErrors.conflict('idempotency key reused with different arguments');
  }
  return stored.response_json;
}

/**
 * Creates a ticket at most once per (tenant, user, idempotency key). A key with a stored
 * response replays it without any check. Otherwise the precheck runs, then the key
 * is claimed in the same transaction as the ticket: a concurrent call with the same
 * key blocks on the claim until this one commits, then replays its response; if
 * this one rolls back, the waiting call takes over the key.
 */
export async function createTicketOnce(
  pool: Pool,
  principal: Principal,
  idempotencyKey: string,
  ticket: NewTicket,
  options: CreateTicketOnceOptions = {},
): Promise<CreatedTicket> {
  if (idempotencyKey === '') throw toolErrors.invalidArgument('idempotency key required');
  if (idempotencyKey.length > maxKeyLength) {
    throw toolErrors.invalidArgument(`idempotency key longer than ${maxKeyLength} characters`);
  }
  const { userId, tenantId } = principal;
  const requestHash = createHash('sha256').update(canonicalJson(ticket)).digest('hex');
  const selectStored = `SELECT request_hash, response_json FROM tickets.idempotency
                         WHERE tenant_id = $1 AND user_id = $2 AND idempotency_key = $3`;
  const owner = [tenantId, userId, idempotencyKey];

  const earlier = await pool.query<StoredResponse>(selectStored, owner);
  const stored = earlier.rows[0];
  if (stored) return replay(stored, requestHash);

  await options.precheck?.();

  return withTransaction(pool, async (client) => {
    const claim = await client.query(
      `INSERT INTO tickets.idempotency (tenant_id, user_id, idempotency_key, request_hash)
       VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [...owner, requestHash],
    );
    if (claim.rowCount === 0) {
      // A concurrent call with this key committed while this one was checking.
      const { rows } = await client.query<StoredResponse>(selectStored, owner);
      const claimed = rows[0];
      if (!claimed) throw toolErrors.unavailable('ticket request in flux, retry');
      return replay(claimed, requestHash);
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
      `UPDATE tickets.idempotency SET response_json = $4
        WHERE tenant_id = $1 AND user_id = $2 AND idempotency_key = $3`,
      [...owner, JSON.stringify(response)],
    );
    return response;
  });
}
