import net from 'node:net';
import { Code, ConnectError } from '@connectrpc/connect';
import { ToolErrorCode, ToolService } from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import { freePort } from '@toolmesh/testkit';
import {
  assertTicketAllowed,
  createOrderLookup,
  type NewTicket,
  type OrderDetail,
  type ToolServiceClient,
} from '../src/index.ts';
import { type Harness, startHarness, u1001, u2002 } from './ticket-harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  // Orders in states the demo world does not seed, written straight into the order
  // service's table: the order service itself answers them.
  await h.db.pool.query(
    `INSERT INTO orders.orders (order_id, user_id, tenant_id, status, pay_status, invoice_ready)
     VALUES ('202604109999', 'u_1001', 't_demo', 'cancelled', 'unpaid', false),
            ('202604109998', 'u_1001', 't_demo', 'shipped', 'paid', true),
            ('202604109997', 'u_1001', 't_demo', 'refunded', 'paid', false)`,
  );
});

afterAll(async () => {
  await h?.stop();
});

/** One InvokeTool the lookup made: the deadline it sent and how the call ended. */
interface LookupCall {
  timeoutMs?: number;
  code?: Code;
  /** The network error underneath, e.g. ECONNREFUSED. */
  cause?: string;
}

// A real client on the address that notes each call's deadline and failure code, so a test
// can tell a refused connection from a deadline that passed without timing anything.
function recordingClient(address: string): { client: ToolServiceClient; calls: LookupCall[] } {
  const real = createGrpcClient(ToolService, { address });
  const calls: LookupCall[] = [];
  const client: ToolServiceClient = {
    ...real,
    async invokeTool(request, options) {
      const call: LookupCall = { timeoutMs: options?.timeoutMs };
      calls.push(call);
      try {
        return await real.invokeTool(request, options);
      } catch (error) {
        const failure = ConnectError.from(error);
        call.code = failure.code;
        const cause = (failure.cause as { code?: unknown } | undefined)?.code;
        if (typeof cause === 'string') call.cause = cause;
        throw error;
      }
    },
  };
  return { client, calls };
}

const ticket = (order_id: string, category: string): NewTicket => ({
  order_id,
  category,
  description: `A ${category} request about ${order_id}.`,
});

async function keyUsed(key: string): Promise<boolean> {
  const { rows } = await h.db.pool.query(
    'SELECT count(*)::int AS n FROM tickets.idempotency WHERE idempotency_key = $1',
    [key],
  );
  return rows[0].n > 0;
}

test("an invoice ticket for the caller's paid order is created", async () => {
  const created = JSON.parse(
    await h.ticket.resultJson({ args: ticket('202604100018', 'invoice'), key: 'oc-invoice' }),
  );
  expect(created).toMatchObject({ order_id: '202604100018', category: 'invoice', status: 'open' });
});

test("another user's order and an unknown order answer the same NOT_FOUND", async () => {
  const foreign = await h.ticket.error({
    args: ticket('202604100018', 'delivery'),
    key: 'oc-foreign',
    principal: u2002,
  });
  expect(foreign).toMatchObject({
    code: ToolErrorCode.NOT_FOUND,
    message: 'order 202604100018 not found',
    retryable: false,
  });
  const unknown = await h.ticket.error({ args: ticket('202604100099', 'delivery'), key: 'oc-unknown' });
  expect(unknown).toMatchObject({
    code: ToolErrorCode.NOT_FOUND,
    message: 'order 202604100099 not found',
    retryable: false,
  });
  // A rejected request leaves its key unused.
  expect(await keyUsed('oc-foreign')).toBe(false);
  expect(await keyUsed('oc-unknown')).toBe(false);
});

test.each([
  [
    'delivery',
    '202604109999',
    'order 202604109999 is cancelled; a delivery ticket needs an order that is paid or shipped',
  ],
  ['refund', '202604109999', 'order 202604109999 is cancelled; it cannot be refunded'],
  ['refund', '202604109997', 'order 202604109997 is refunded; it cannot be refunded'],
  ['invoice', '202604109999', 'an invoice needs a paid order'],
  ['invoice', '202604109998', 'the invoice for order 202604109998 is already available; no ticket needed'],
])('a %s ticket for order %s is refused: %s', async (category, orderId, message) => {
  const key = `oc-${category}-${orderId}`;
  const refused = await h.ticket.error({ args: ticket(orderId, category), key });
  expect(refused).toMatchObject({ code: ToolErrorCode.FAILED_PRECONDITION, message, retryable: false });
  expect(await keyUsed(key)).toBe(false);
});

test('tickets of other categories only need the order to be the caller’s', async () => {
  const created = JSON.parse(
    await h.ticket.resultJson({ args: ticket('202604109999', 'other'), key: 'oc-other' }),
  );
  expect(created).toMatchObject({ order_id: '202604109999', category: 'other' });
});

test('the order is read as the end user: without order:read the ticket is denied', async () => {
  const noOrderRead = { ...u1001, permissions: ['ticket:write'] };
  const denied = await h.ticket.error({
    args: ticket('202604100018', 'product'),
    key: 'oc-no-order-read',
    principal: noOrderRead,
  });
  expect(denied).toMatchObject({
    code: ToolErrorCode.PERMISSION_DENIED,
    message: 'checking the order needs permission order:read',
  });
});

test('an order service that is down answers UNAVAILABLE, retryable, without waiting for a deadline', async () => {
  const closed = await freePort();
  const { client, calls } = recordingClient(`127.0.0.1:${closed}`);
  const down = await h.startTicketService(createOrderLookup({ client }));
  const failed = await down.error({ args: ticket('202604100018', 'refund'), key: 'oc-down' });
  // The lookup ended on the refused connection, not on its deadline.
  expect(calls).toEqual([{ timeoutMs: expect.any(Number), code: expect.any(Number), cause: 'ECONNREFUSED' }]);
  expect(calls[0]?.code).not.toBe(Code.DeadlineExceeded);
  expect(failed).toMatchObject({
    code: ToolErrorCode.UNAVAILABLE,
    message: 'order service unavailable, retry later',
    retryable: true,
  });
  expect(await keyUsed('oc-down')).toBe(false);
});

test('an order service that never answers times out as UNAVAILABLE, not a hang', async () => {
  // Accepts connections and stays silent: no HTTP/2 settings, no response.
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as net.AddressInfo;
  try {
    const { client, calls } = recordingClient(`127.0.0.1:${port}`);
    const hung = await h.startTicketService(createOrderLookup({ client, timeoutMs: 300 }));
    const failed = await hung.error({ args: ticket('202604100018', 'refund'), key: 'oc-hung' });
    expect(failed).toMatchObject({ code: ToolErrorCode.UNAVAILABLE, retryable: true });
    // The silent server was reached, and the lookup's own 300 ms deadline (not the ticket
    // call's 5 s) is what ended the call.
    expect(sockets.size).toBeGreaterThan(0);
    expect(calls).toMatchObject([{ timeoutMs: 300, code: Code.DeadlineExceeded }]);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});

test('a replay of a stored key answers without the order service', async () => {
  const order = await h.startOrderService();
  const service = await h.startTicketService(createOrderLookup({ address: order.address }));
  const args = ticket('202604100018', 'refund');
  const first = await service.resultJson({ args, key: 'oc-replay' });

  await order.server.shutdown(1_000);
  expect(await service.resultJson({ args, key: 'oc-replay' })).toBe(first);
  // A reused key with other arguments is still a conflict, found without the order service.
  const conflict = await service.error({
    args: { ...args, description: 'Something else.' },
    key: 'oc-replay',
  });
  expect(conflict.code).toBe(ToolErrorCode.CONFLICT);
  // A new key needs the check, and the order service is gone.
  const fresh = await service.error({ args: ticket('202604100018', 'product'), key: 'oc-after-stop' });
  expect(fresh).toMatchObject({ code: ToolErrorCode.UNAVAILABLE, retryable: true });
});

describe('assertTicketAllowed', () => {
  const order = (patch: Partial<OrderDetail>): OrderDetail => ({
    order_id: '202604100018',
    status: 'shipped',
    pay_status: 'paid',
    invoice_ready: false,
    ...patch,
  });

  test.each([
    ['invoice', {}],
    ['refund', { status: 'paid' }],
    ['refund', { status: 'delivered' }],
    ['delivery', { status: 'paid' }],
    ['delivery', { status: 'shipped' }],
    ['product', { status: 'cancelled', pay_status: 'unpaid' }],
    ['other', { status: 'refunded' }],
  ])('allows a %s ticket for %j', (category, patch) => {
    expect(() => assertTicketAllowed(order(patch), ticket('202604100018', category))).not.toThrow();
  });

  test.each([
    ['invoice', { pay_status: 'unpaid' }],
    ['invoice', { invoice_ready: true }],
    ['refund', { status: 'refunded' }],
    ['refund', { status: 'cancelled' }],
    ['delivery', { status: 'created' }],
    ['delivery', { status: 'delivered' }],
    ['delivery', { status: 'cancelled' }],
  ])('refuses a %s ticket for %j', (category, patch) => {
    expect(() => assertTicketAllowed(order(patch), ticket('202604100018', category))).toThrow(
      expect.objectContaining({ code: 'FAILED_PRECONDITION' }),
    );
  });
});
