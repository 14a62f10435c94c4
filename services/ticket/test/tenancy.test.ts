// Tenants share nothing: a user id is only a user within its tenant. The ticket tools are
// called in process with the principal the mesh credential would carry, on the real
// Postgres; the order check asks the order service's own tool as the principal of the
// credential the orchestrator delegated for the ticket call.
import { create } from '@bufbuild/protobuf';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { createOrderTools, orderMigrations, orderSchema } from '@toolmesh/order-service';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import type { Tool } from '@toolmesh/tool-sdk';
import { createTicketTools, type OrderDetail, ticketMigrations, ticketSchema } from '../src/index.ts';

type PrincipalInit = Pick<Principal, 'userId' | 'tenantId' | 'permissions'>;

const logger = createLogger({ service: 'ticket-tenancy-test', level: 'silent' });
const permissions = ['order:read', 'ticket:read', 'ticket:write'];
const demo: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions };
const other: PrincipalInit = { ...demo, tenantId: 't_other' };

// Stand-ins for the delegated credentials the orchestrator signs, by token: each reads as the
// principal it was issued for (the signatures themselves are tested over the network).
const delegated = new Map<string, Principal>();
let issued = 0;

// What the tool service hands a handler: the principal of the verified call, and the
// credential delegated with it to read the order as the same user.
const context = (principal: PrincipalInit | Principal, idempotencyKey = '') => {
  const token = `delegation-${++issued}`;
  delegated.set(token, create(PrincipalSchema, principal));
  return {
    principal: create(PrincipalSchema, principal),
    toolCallId: 'call_tenancy',
    requestId: 'req_tenancy',
    idempotencyKey,
    signal: new AbortController().signal,
    remainingMs: () => 10_000,
    logger,
    credentialFor: (tool: string) => (tool === 'get_order_detail' ? token : undefined),
  };
};

const outcome = (promise: Promise<unknown>) =>
  promise.then(
    (result) => ({ result }),
    (error: { code?: string; message: string }) => ({ code: error.code, message: error.message }),
  );

let testDb: TestDatabase;
let db: Database;
let createTicket: Tool;
let listTickets: Tool;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
  await migrate(db.pool, { schema: ticketSchema, migrations: ticketMigrations });
  const [getOrderDetail] = createOrderTools(db.readPool) as [Tool];
  [createTicket, listTickets] = createTicketTools({
    pool: db.pool,
    readPool: db.readPool,
    // The order service answers for the delegation's principal, as it does over the mesh.
    orderLookup: {
      async getOrder(orderId, ctx) {
        const principal = delegated.get(ctx.credentialFor('get_order_detail') ?? '');
        if (!principal) throw new Error('create_ticket read an order without a delegated credential');
        return (await getOrderDetail.handler(
          { order_id: orderId, include_items: false },
          context(principal),
        )) as OrderDetail;
      },
    },
  }) as [Tool, Tool];
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

const invoice = { order_id: '202604100018', category: 'invoice', description: 'Please send the invoice.' };
const openTicket = (principal: PrincipalInit, key: string, args: unknown = invoice) =>
  outcome(createTicket.handler(createTicket.input.parse(args), context(principal, key)));
const list = async (principal: PrincipalInit) =>
  (
    (await listTickets.handler({}, context(principal))) as {
      tickets: { ticket_id: string; order_id: string }[];
    }
  ).tickets;
const count = async (table: string, tenantId: string) =>
  (await db.pool.query(`SELECT count(*)::int AS n FROM tickets.${table} WHERE tenant_id = $1`, [tenantId]))
    .rows[0].n as number;

let demoTicketId = '';

test("u_1001 of t_other cannot open a ticket on t_demo's order, nor replay t_demo's key: nothing is written", async () => {
  const created = await openTicket(demo, 'key-shared');
  expect(created).toEqual({
    result: expect.objectContaining({ ticket_id: expect.stringMatching(/^T-/), order_id: '202604100018' }),
  });
  demoTicketId = (created as { result: { ticket_id: string } }).result.ticket_id;

  // Same user id, same key, same arguments, another tenant: not a replay, and the order is
  // not theirs, answered exactly like a missing one.
  expect(await openTicket(other, 'key-shared')).toEqual({
    code: 'NOT_FOUND',
    message: 'order 202604100018 not found',
  });
  expect(await openTicket(other, 'key-other', { ...invoice, order_id: '209912319999' })).toEqual({
    code: 'NOT_FOUND',
    message: 'order 209912319999 not found',
  });
  expect(await count('tickets', 't_other')).toBe(0);
  expect(await count('idempotency', 't_other')).toBe(0);
});

test("list_tickets: each tenant's u_1001 sees only their own tickets", async () => {
  expect((await list(demo)).map((t) => t.ticket_id)).toEqual([demoTicketId]);
  expect(await list(other)).toEqual([]);
});

test('the same order number in two tenants: two tickets, two keys, one rule per tenant', async () => {
  // t_other numbers its own orders; this one is theirs.
  await db.pool.query(
    `INSERT INTO orders.orders (order_id, user_id, tenant_id, status, pay_status, invoice_ready)
     VALUES ('202604100018', 'u_1001', 't_other', 'paid', 'paid', false)`,
  );
  const theirs = await openTicket(other, 'key-shared');
  const theirId = (theirs as { result?: { ticket_id: string } }).result?.ticket_id;
  // A ticket of their own, not t_demo's response replayed; t_demo's open invoice ticket does
  // not count against t_other's "one open ticket per order and category".
  expect(theirId).toMatch(/^T-/);
  expect(theirId).not.toBe(demoTicketId);
  // Each key replays within its own tenant only.
  expect(await openTicket(other, 'key-shared')).toEqual(theirs);
  expect(await openTicket(demo, 'key-shared')).toEqual({
    result: expect.objectContaining({ ticket_id: demoTicketId }),
  });
  expect((await list(other)).map((t) => t.ticket_id)).toEqual([theirId]);
  expect((await list(demo)).map((t) => t.ticket_id)).toEqual([demoTicketId]);
  expect(await count('idempotency', 't_other')).toBe(1);
  expect(await count('idempotency', 't_demo')).toBe(1);
});

test("upgrading a database of the earlier schema gives each idempotency record its ticket's tenant", async () => {
  const upgradeDb = await createTestDatabase();
  const old = await openDatabase({ url: upgradeDb.url });
  try {
    await migrate(old.pool, {
      schema: ticketSchema,
      migrations: ticketMigrations.filter((m) => m.version <= 1),
    });
    await old.pool.query(
      `INSERT INTO tickets.tickets (ticket_id, user_id, tenant_id, order_id, category, description)
       VALUES ('T-000000000A', 'u_1001', 't_demo', '202604100018', 'invoice', 'Please send it.'),
              ('T-000000000B', 'u_2002', 't_other', '202605010001', 'refund', 'Refund please.')`,
    );
    await old.pool.query(
      `INSERT INTO tickets.idempotency (user_id, idempotency_key, request_hash, response_json)
       VALUES ('u_1001', 'k-a', 'h', '{"ticket_id":"T-000000000A"}'),
              ('u_2002', 'k-b', 'h', '{"ticket_id":"T-000000000B"}'),
              ('u_2002', 'k-orphan', 'h', NULL)`,
    );
    expect(await migrate(old.pool, { schema: ticketSchema, migrations: ticketMigrations })).toEqual([2]);
    const { rows } = await old.pool.query(
      'SELECT tenant_id, user_id, idempotency_key FROM tickets.idempotency ORDER BY idempotency_key',
    );
    expect(rows).toEqual([
      { tenant_id: 't_demo', user_id: 'u_1001', idempotency_key: 'k-a' },
      { tenant_id: 't_other', user_id: 'u_2002', idempotency_key: 'k-b' },
    ]);
  } finally {
    await old.close();
    await upgradeDb.drop();
  }
});
