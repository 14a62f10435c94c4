import { SideEffect, ToolErrorCode } from '@toolmesh/proto';
import { canonicalJson } from '../src/index.ts';
import { type Call, type Harness, startHarness, u1001, u2002 } from './ticket-harness.ts';

const invoiceRequest = {
  order_id: '202604100018',
  category: 'invoice',
  description: 'Please issue the invoice for this order.',
};

let h: Harness;

// Every test talks to a ticket service whose order checks go to a real order service.
beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

const invoke = (call: Call) => h.ticket.invoke(call);
const resultJson = (call: Call) => h.ticket.resultJson(call);
const error = (call: Call) => h.ticket.error(call);

async function countTickets(userId: string): Promise<number> {
  const { rows } = await h.db.pool.query(
    'SELECT count(*)::int AS n FROM tickets.tickets WHERE user_id = $1',
    [userId],
  );
  return rows[0].n;
}

test('ListTools publishes create_ticket and list_tickets with their schemas and metadata', async () => {
  const { tools } = await h.ticket.client.listTools({}, await h.meshKeys.registryCall());
  expect(tools.map((t) => t.name)).toEqual(['create_ticket', 'list_tickets']);
  const [create, list] = tools;
  expect(JSON.parse(create?.inputSchemaJson ?? '')).toMatchObject({
    type: 'object',
    required: ['order_id', 'category', 'description'],
    additionalProperties: false,
    properties: {
      order_id: { type: 'string', pattern: '^[0-9]{12}$' },
      category: { enum: ['invoice', 'refund', 'delivery', 'product', 'other'] },
      description: { type: 'string', minLength: 5, maxLength: 1000 },
    },
  });
  expect(create?.metadata).toMatchObject({
    permission: 'ticket:write',
    sideEffect: SideEffect.WRITE,
    idempotent: true,
    allowParallel: false,
    timeout: { seconds: 5n, nanos: 0 },
  });
  expect(JSON.parse(list?.inputSchemaJson ?? '')).toMatchObject({
    type: 'object',
    additionalProperties: false,
  });
  expect(list?.metadata).toMatchObject({ permission: 'ticket:read', sideEffect: SideEffect.READ });
});

test('creates a ticket once per key: a replay answers the same response', async () => {
  const lookups = h.lookupCalls();
  const first = await resultJson({ args: invoiceRequest, key: 'key-invoice' });
  expect(h.lookupCalls()).toBe(lookups + 1);
  const ticket = JSON.parse(first);
  expect(Object.keys(ticket)).toEqual(['ticket_id', 'order_id', 'category', 'status', 'created_at']);
  expect(ticket).toMatchObject({ order_id: '202604100018', category: 'invoice', status: 'open' });
  expect(ticket.ticket_id).toMatch(/^T-[0-9A-Z]{10}$/);
  expect(new Date(ticket.created_at).toISOString()).toBe(ticket.created_at);

  // Key order of the arguments does not matter: the hash is over canonical JSON.
  const reordered = {
    description: invoiceRequest.description,
    category: 'invoice',
    order_id: '202604100018',
  };
  expect(await resultJson({ args: reordered, key: 'key-invoice' })).toBe(first);
  expect(await countTickets('u_1001')).toBe(1);
  // A replay answers from the ticket database alone.
  expect(h.lookupCalls()).toBe(lookups + 1);

  const conflict = await error({
    args: { ...invoiceRequest, description: 'Something else.' },
    key: 'key-invoice',
  });
  expect(conflict.code).toBe(ToolErrorCode.CONFLICT);
  expect(conflict.message).toBe('idempotency key reused with different arguments');
  expect(h.lookupCalls()).toBe(lookups + 1);

  const duplicate = await error({ args: invoiceRequest, key: 'another-key' });
  expect(duplicate.code).toBe(ToolErrorCode.FAILED_PRECONDITION);
  expect(duplicate.message).toBe('an open invoice ticket already exists for this order');
  expect(await countTickets('u_1001')).toBe(1);
});

test('10 concurrent calls with one key create exactly one ticket', async () => {
  const args = { order_id: '202604100018', category: 'delivery', description: 'The parcel is late.' };
  const results = await Promise.all(Array.from({ length: 10 }, () => resultJson({ args, key: 'key-burst' })));
  expect(new Set(results).size).toBe(1);
  const { rows } = await h.db.pool.query(
    "SELECT count(*)::int AS n FROM tickets.tickets WHERE order_id = '202604100018' AND category = 'delivery'",
  );
  expect(rows[0].n).toBe(1);
  const keys = await h.db.pool.query(
    "SELECT count(*)::int AS n FROM tickets.idempotency WHERE idempotency_key = 'key-burst'",
  );
  expect(keys.rows[0].n).toBe(1);
});

test('concurrent calls with different keys still open one ticket per order and category', async () => {
  const args = { order_id: '202604100042', category: 'refund', description: 'Please refund me.' };
  const outcomes = await Promise.all(
    Array.from({ length: 5 }, (_, i) => invoke({ args, key: `key-race-${i}`, principal: u2002 })),
  );
  expect(outcomes.filter((o) => o.case === 'resultJson')).toHaveLength(1);
  for (const o of outcomes.filter((o) => o.case === 'error')) {
    expect(o.case === 'error' && o.value.code).toBe(ToolErrorCode.FAILED_PRECONDITION);
  }
});

test('an empty idempotency key is rejected', async () => {
  const rejected = await error({ args: { ...invoiceRequest, category: 'refund' }, key: '' });
  expect(rejected.code).toBe(ToolErrorCode.INVALID_ARGUMENT);
  expect(rejected.message).toBe('idempotency key required');
});

test("list_tickets answers only the caller's tickets, newest first", async () => {
  const mine = await resultJson({
    args: { order_id: '202604100018', category: 'product', description: 'The mouse wheel squeaks.' },
    key: 'key-product',
  });
  const theirs = await resultJson({
    args: { order_id: '202604100042', category: 'other', description: 'Can I change the address?' },
    key: 'key-product', // the same key of another user is another key
    principal: u2002,
  });
  const listed = JSON.parse(await resultJson({ tool: 'list_tickets', args: {} }));
  expect(listed.tickets.map((t: { category: string }) => t.category)).toEqual([
    'product',
    'delivery',
    'invoice',
  ]);
  expect(listed.tickets[0]).toEqual(JSON.parse(mine));

  const other = JSON.parse(await resultJson({ tool: 'list_tickets', args: '', principal: u2002 }));
  expect(other.tickets.map((t: { category: string }) => t.category)).toEqual(['other', 'refund']);
  expect(other.tickets[0]).toEqual(JSON.parse(theirs));
});

test('principals without the permission are denied', async () => {
  const readOnly = { ...u1001, permissions: ['order:read', 'ticket:read'] };
  const denied = await error({ args: invoiceRequest, key: 'key-ro', principal: readOnly });
  expect(denied.code).toBe(ToolErrorCode.PERMISSION_DENIED);
  const noRead = await error({ tool: 'list_tickets', args: {}, principal: { ...u1001, permissions: [] } });
  expect(noRead.code).toBe(ToolErrorCode.PERMISSION_DENIED);
});

test.each([
  ['a wrong type', { ...invoiceRequest, order_id: 202604100018 }],
  ['an unknown category', { ...invoiceRequest, category: 'complaint' }],
  ['a too short description', { ...invoiceRequest, description: '  hi   ' }],
  ['a too long description', { ...invoiceRequest, description: 'x'.repeat(1001) }],
  ['an extra key', { ...invoiceRequest, status: 'closed' }],
  ['bad JSON', '{"order_id": "202604100018",'],
])('%s is an invalid argument', async (_case, args) => {
  expect((await error({ args, key: 'key-invalid' })).code).toBe(ToolErrorCode.INVALID_ARGUMENT);
});

test('list_tickets takes no arguments', async () => {
  expect((await error({ tool: 'list_tickets', args: { user_id: 'u_2002' } })).code).toBe(
    ToolErrorCode.INVALID_ARGUMENT,
  );
});

test('canonical JSON sorts keys at every level', () => {
  expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null }, u: undefined })).toBe(
    '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}',
  );
});
