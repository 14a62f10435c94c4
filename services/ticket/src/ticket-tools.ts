import { type Pool, queryWithDeadline } from '@toolmesh/db';
import { defineTool, type Tool } from '@toolmesh/tool-sdk';
import { z } from 'zod';
import { createTicketOnce } from './create-ticket-once.ts';
import { type OrderLookup, orderDetailTool } from './order-lookup.ts';
import { assertTicketAllowed } from './ticket-rules.ts';

interface TicketRow {
  ticket_id: string;
  order_id: string;
  category: string;
  status: string;
  created_at: Date;
}

const createTicketInput = z.strictObject({
  order_id: z
    .string()
    .regex(/^[0-9]{12}$/, 'must be a 12-digit order number')
    .describe('The 12-digit order number the ticket is about, e.g. "202604100018".'),
  category: z
    .enum(['invoice', 'refund', 'delivery', 'product', 'other'])
    .describe('What the ticket is about: invoice, refund, delivery, product or other.'),
  description: z
    .string()
    .trim()
    .min(5)
    .max(1000)
    .describe("The user's request in their own words, 5 to 1000 characters."),
});

// Bounds the answer for the model; a user with more tickets sees the newest ones.
const listLimit = 50;

/** Options of {@link createTicketTools}. */
export interface TicketToolsOptions {
  /** Pool on a database migrated with the ticket migrations. */
  pool: Pool;
  /** Read-only pool on the same database (openDatabase's `readPool`) for list_tickets; default `pool`. */
  readPool?: Pool;
  /** Where create_ticket checks that the order is the caller's and allows the ticket. */
  orderLookup: OrderLookup;
}

/**
 * The ticket service's tools; every ticket belongs to the user who opened it, in the
 * tenant it was opened in: the same user id in another tenant is another user.
 */
export function createTicketTools(options: TicketToolsOptions): Tool[] {
  const { pool, orderLookup } = options;
  const readPool = options.readPool ?? pool;

  const createTicket = defineTool({
    name: 'create_ticket',
    description:
      "Opens a customer-service ticket for one of the user's orders, e.g. to request an invoice or " +
      'report a delivery problem. Changes state: it runs only after the user confirms. At most one ' +
      "open ticket per order and category; the order must be one of the user's and in a state that " +
      'allows the request (e.g. an invoice needs a paid order whose invoice is not yet available).',
    input: createTicketInput,
    metadata: {
      sideEffect: 'write',
      permission: 'ticket:write',
      timeoutMs: 5_000,
      // Retries are safe because the idempotency key makes them replays.
      idempotent: true,
      allowParallel: false,
      // It reads the order as the same user: each call brings a credential for that read.
      delegatedTools: [orderDetailTool],
    },
    handler: (args, ctx) =>
      createTicketOnce(pool, ctx.principal, ctx.idempotencyKey, args, {
        precheck: async () => assertTicketAllowed(await orderLookup.getOrder(args.order_id, ctx), args),
      }),
  });

  const listTickets = defineTool({
    name: 'list_tickets',
    description: "Lists the user's customer-service tickets, newest first, with their status.",
    input: z.strictObject({}),
    metadata: { sideEffect: 'read', permission: 'ticket:read' },
    async handler(_args, ctx) {
      const { rows } = await queryWithDeadline<TicketRow>(
        readPool,
        ctx.remainingMs(),
        `SELECT ticket_id, order_id, category, status, created_at
           FROM tickets.tickets
          WHERE user_id = $1 AND tenant_id = $2
          ORDER BY created_at DESC, ticket_id DESC
          LIMIT ${listLimit}`,
        [ctx.principal.userId, ctx.principal.tenantId],
      );
      return {
        tickets: rows.map((t) => ({
          ticket_id: t.ticket_id,
          order_id: t.order_id,
          category: t.category,
          status: t.status,
          created_at: t.created_at.toISOString(),
        })),
      };
    },
  });

  return [createTicket, listTickets];
}
