import net from 'node:net';
import { Code, ConnectError } from '@connectrpc/connect';
import { ToolErrorCode, ToolService } from '@toolmesh/proto';
import { createGrpcClient, credentialHeaders, delegationHeader, isUnsentError } from '@toolmesh/rpc';
import { createTestMeshKeys, freePort, rpcCode } from '@toolmesh/testkit';
import {
  assertTicketAllowed,
  createOrderLookup,
  type NewTicket,
  type OrderDetail,
  type ToolServiceClient,
} from '../src/index.ts';
import { type Harness, orderDetailTool, startHarness, u1001, u2002 } from './ticket-harness.ts';

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
  /** The call never reached a server (a refused connection, as the rpc package tells it). */
  unsent?: boolean;
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
        call.unsent = isUnsentError(error);
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
  expect(calls).toEqual([{ timeoutMs: expect.any(Number), code: expect.any(Number), unsent: true }]);
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

describe('mesh credentials of create_ticket', () => {
  // Each test asks for a ticket its order allows and no other test opens, so a call that got
  // past the credential check would write; the same call, signed right, does at the end.
  const request = (toolCallId: string, key: string, args: NewTicket) => ({
    toolCallId,
    toolName: 'create_ticket',
    argumentsJson: JSON.stringify(args),
    idempotencyKey: key,
  });
  const delegationFor = (callId: string) =>
    h.meshKeys.delegation(u1001, orderDetailTool, callId, 'create_ticket');

  // The call as the orchestrator signs it: it creates the ticket the refused calls did not.
  async function signedRight(req: ReturnType<typeof request>) {
    const options = await h.meshKeys.toolCall(u1001, req, [await delegationFor(req.toolCallId)]);
    const res = await h.ticket.client.invokeTool(req, options);
    expect(res.outcome.case).toBe('resultJson');
  }

  test('a direct InvokeTool without a credential, or signed with a key the mesh does not know, is UNAUTHENTICATED and writes nothing', async () => {
    const before = await h.ticketCount();
    const lookups = h.lookupCalls();
    const req = request('call_direct', 'oc-direct', ticket('202604100018', 'delivery'));
    expect(await rpcCode(h.ticket.client.invokeTool(req))).toBe(Code.Unauthenticated);
    // A key set of its own: same issuer names, keys the mesh's JWKS does not hold.
    const forger = await createTestMeshKeys();
    const forgedDelegation = await forger.delegation(u1001, orderDetailTool, 'call_direct', 'create_ticket');
    const forged = await forger.toolCall(u1001, req, [forgedDelegation]);
    expect(await rpcCode(h.ticket.client.invokeTool(req, forged))).toBe(Code.Unauthenticated);
    // A genuine delegation does not make a forged call credential good.
    const forgedWithGenuine = await forger.toolCall(u1001, req, [await delegationFor('call_direct')]);
    expect(await rpcCode(h.ticket.client.invokeTool(req, forgedWithGenuine))).toBe(Code.Unauthenticated);

    // Refused before the handler: no order read, no ticket, no key.
    expect(h.lookupCalls()).toBe(lookups);
    expect(await h.ticketCount()).toBe(before);
    expect(await keyUsed('oc-direct')).toBe(false);
    await signedRight(req);
    expect(await h.ticketCount()).toBe(before + 1);
  });

  test('a credential for get_order_detail replayed against create_ticket, or one issued for another call, is UNAUTHENTICATED', async () => {
    const before = await h.ticketCount();
    const req = request('call_misbound', 'oc-misbound', ticket('202604109998', 'product'));
    const delegation = [await delegationFor('call_misbound')];
    // The order read's own credentials: the call credential and the delegated one.
    const forOrderRead = await h.meshKeys.toolCall(u1001, { ...req, toolName: orderDetailTool }, delegation);
    expect(await rpcCode(h.ticket.client.invokeTool(req, forOrderRead))).toBe(Code.Unauthenticated);
    const delegationAsCall = { headers: credentialHeaders(delegation[0] ?? '') };
    expect(await rpcCode(h.ticket.client.invokeTool(req, delegationAsCall))).toBe(Code.Unauthenticated);
    // create_ticket credentials of another call, or of another idempotency key of this one.
    const forOtherCall = await h.meshKeys.toolCall(u1001, { ...req, toolCallId: 'call_other' }, delegation);
    expect(await rpcCode(h.ticket.client.invokeTool(req, forOtherCall))).toBe(Code.Unauthenticated);
    const forOtherKey = await h.meshKeys.toolCall(u1001, { ...req, idempotencyKey: 'oc-other' }, delegation);
    expect(await rpcCode(h.ticket.client.invokeTool(req, forOtherKey))).toBe(Code.Unauthenticated);

    expect(await h.ticketCount()).toBe(before);
    expect(await keyUsed('oc-misbound')).toBe(false);
    await signedRight(req);
    expect(await h.ticketCount()).toBe(before + 1);
  });

  test('without a delegated credential to read the order, create_ticket is PERMISSION_DENIED in-band and opens nothing', async () => {
    const before = await h.ticketCount();
    const denied = await h.ticket.error({
      args: ticket('202604109998', 'refund'),
      key: 'oc-no-delegation',
      delegate: false,
    });
    expect(denied).toMatchObject({
      code: ToolErrorCode.PERMISSION_DENIED,
      message: 'the order cannot be checked: no delegated credential to read it',
      retryable: false,
    });
    expect(await h.ticketCount()).toBe(before);
    expect(await keyUsed('oc-no-delegation')).toBe(false);
    await signedRight(request('call_delegated', 'oc-no-delegation', ticket('202604109998', 'refund')));
    expect(await h.ticketCount()).toBe(before + 1);
  });

  test('a delegation issued for another call does not read the order: the order service refuses it, no ticket', async () => {
    const before = await h.ticketCount();
    const { client, calls } = recordingClient(h.orderAddress);
    const service = await h.startTicketService(createOrderLookup({ client }));
    const req = request('call_mine', 'oc-their-delegation', ticket('202604109998', 'delivery'));
    const theirs = await h.meshKeys.toolCall(u1001, req, [await delegationFor('call_theirs')]);
    const res = await service.client.invokeTool(req, theirs);
    expect(res.outcome.case).toBe('error');
    expect(calls).toMatchObject([{ code: Code.Unauthenticated }]);
    expect(await h.ticketCount()).toBe(before);
    expect(await keyUsed('oc-their-delegation')).toBe(false);
    // With the delegation of its own call, the same lookup reads the order.
    const own = await h.meshKeys.toolCall(u1001, req, [await delegationFor('call_mine')]);
    expect((await service.client.invokeTool(req, own)).outcome.case).toBe('resultJson');
    expect(calls).toHaveLength(2);
    expect(calls[1]?.code).toBeUndefined();
    expect(await h.ticketCount()).toBe(before + 1);
  });

  test('a delegated credential cannot be used for a write tool', async () => {
    const before = await h.ticketCount();
    const writeDelegation = await h.meshKeys.delegation(
      u1001,
      'create_ticket',
      'call_parent',
      'list_tickets',
    );
    const options = { headers: credentialHeaders(writeDelegation) };
    const args = ticket('202604109998', 'other');
    // Neither a sub-call of the call it names nor that call itself.
    for (const toolCallId of ['call_parent:write', 'call_parent']) {
      const req = request(toolCallId, 'oc-delegated-write', args);
      const withRead = {
        headers: { ...options.headers, [delegationHeader]: await delegationFor(toolCallId) },
      };
      expect(await rpcCode(h.ticket.client.invokeTool(req, withRead))).toBe(Code.Unauthenticated);
    }
    expect(await h.ticketCount()).toBe(before);
    expect(await keyUsed('oc-delegated-write')).toBe(false);
    await signedRight(request('call_parent', 'oc-delegated-write', args));
    expect(await h.ticketCount()).toBe(before + 1);
  });
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
