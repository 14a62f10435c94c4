// ToolCallService in process: a call named by the caller (MCP) passes the checks of a
// model's call; a read runs as the caller and is recorded; a write is only held, and the
// usual Confirm runs it exactly once.
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { type Principal, ToolCallService, ToolErrorCode } from '@toolmesh/proto';
import { createErrorBoundary, meshCredentialKey } from '@toolmesh/rpc';
import { createToolCallService } from '../src/tool-call-service.ts';
import { createToolExecutor } from '../src/tools/index.ts';
import { createTestEngine, principal, readPermissions, turnOf } from './support/test-engine.ts';
import type { WorldTool } from './support/tool-world.ts';

const orderTool: WorldTool = {
  name: 'get_order_detail',
  permission: 'order:read',
  schema: {
    type: 'object',
    properties: { order_id: { type: 'string' } },
    required: ['order_id'],
    additionalProperties: false,
  },
  run: (args) => ({ order_id: args.order_id }),
};

function setup() {
  const tickets: Record<string, unknown>[] = [];
  const ticketTool: WorldTool = {
    name: 'create_ticket',
    permission: 'ticket:write',
    sideEffect: 'write',
    schema: {
      type: 'object',
      properties: { order_id: { type: 'string' }, description: { type: 'string' } },
      required: ['order_id', 'description'],
      additionalProperties: false,
    },
    run: (args) => {
      tickets.push(args);
      return { ticket_id: `T${tickets.length}` };
    },
  };
  const t = createTestEngine({ tools: [orderTool, ticketTool], script: () => ({ content: 'done' }) });
  const executor = createToolExecutor({
    logger: t.logger,
    ledger: t.ledger,
    credentials: { forCall: async () => ({}), forTask: async () => ({}), forRegistry: async () => ({}) },
  });
  const service = createToolCallService({
    registry: t.world.registry,
    executor,
    conversations: t.conversations,
    actions: t.actions,
    requests: t.chatRequests,
    confirm: t.engine.confirm,
    approvalTtlSeconds: 900,
    limits: { maxToolCallsPerRound: 8, maxArgumentBytes: 16_384, maxToolOutputChars: 8_000 },
  });
  // The mesh interceptor's part: the verified caller on the context.
  let caller: Principal = principal();
  const transport = createRouterTransport(
    (router) => {
      service.register(router);
    },
    {
      router: {
        interceptors: [
          (next) => (req) => {
            req.contextValues.set(meshCredentialKey, {
              principal: caller,
              requestId: 'req_mcp',
              audience: 'toolmesh:orchestrator',
              issuer: 'toolmesh-gateway',
              expiresAt: Number.MAX_SAFE_INTEGER,
              token: 't',
            });
            return next(req);
          },
          createErrorBoundary({ logger: t.logger }),
        ],
      },
    },
  );
  const client = createClient(ToolCallService, transport);
  const as = (who: Principal) => {
    caller = who;
    return client;
  };
  return { ...t, tickets, as };
}

test('a read runs as the caller, through the executor, and is recorded in a conversation of theirs', async () => {
  const t = setup();
  const res = await t.as(principal('u_2002')).callTool({
    toolName: 'get_order_detail',
    argumentsJson: '{"order_id":"202604100042"}',
  });
  expect(res.outcome.case).toBe('resultJson');
  expect(JSON.parse(res.outcome.value as string)).toEqual({ order_id: '202604100042' });
  expect(res.execution).toMatchObject({ toolName: 'get_order_detail', success: true });
  expect(t.world.invocations).toHaveLength(1);
  expect(t.ledgerRows).toHaveLength(1);
  expect(t.ledgerRows[0]).toMatchObject({ status: 'done' });
  expect(t.ledgerRows[0]?.start).toMatchObject({
    userId: 'u_2002',
    requestId: 'req_mcp',
    sideEffect: 'read',
  });
  expect(t.ledgerRows[0]?.start.conversationId).toBe(res.conversationId);
  const history = await t.conversations.load(res.conversationId);
  expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
});

test('a write is held as a pending action, never executed, and Confirm runs it exactly once', async () => {
  const t = setup();
  const res = await t.as(principal()).callTool({
    toolName: 'create_ticket',
    argumentsJson: '{"order_id":"202604100018","description":"late"}',
  });
  expect(res.outcome.case).toBe('pendingAction');
  const action = res.outcome.case === 'pendingAction' ? res.outcome.value : undefined;
  expect(action).toMatchObject({
    toolName: 'create_ticket',
    summary: 'create_ticket(order_id=202604100018, description=late)',
  });
  expect(action?.expiresAt).toBeDefined();
  expect(t.world.invocations).toHaveLength(0);
  expect(t.tickets).toHaveLength(0);

  const confirmed = await t.engine.confirm(turnOf(), res.conversationId, action?.actionId ?? '', true);
  expect(confirmed.toolExecutions.map((e) => e.success)).toEqual([true]);
  await t.engine.confirm(turnOf(), res.conversationId, action?.actionId ?? '', true);
  expect(t.tickets).toEqual([{ order_id: '202604100018', description: 'late' }]);
});

test('another user cannot confirm the held write', async () => {
  const t = setup();
  const res = await t.as(principal()).callTool({
    toolName: 'create_ticket',
    argumentsJson: '{"order_id":"202604100018","description":"late"}',
  });
  const actionId = res.outcome.case === 'pendingAction' ? res.outcome.value.actionId : '';
  await expect(
    t.engine.confirm(turnOf(principal('u_2002')), res.conversationId, actionId, true),
  ).rejects.toThrow(/not found/);
  expect(t.tickets).toHaveLength(0);
});

test('unknown, not permitted and malformed calls are refused as a model call would be, and nothing runs', async () => {
  const t = setup();
  const refusal = async (who: Principal, toolName: string, argumentsJson: string) => {
    const res = await t.as(who).callTool({ toolName, argumentsJson });
    return res.outcome.case === 'error' ? res.outcome.value : undefined;
  };
  expect(await refusal(principal(), 'drop_tables', '{}')).toMatchObject({
    code: ToolErrorCode.INVALID_ARGUMENT,
    message: 'unknown tool "drop_tables"',
  });
  const readOnly = principal('u_1001', readPermissions);
  expect(
    await refusal(readOnly, 'create_ticket', '{"order_id":"202604100018","description":"late"}'),
  ).toMatchObject({ code: ToolErrorCode.PERMISSION_DENIED, message: 'the user may not run create_ticket' });
  expect(await refusal(principal(), 'get_order_detail', '{"order":1}')).toMatchObject({
    code: ToolErrorCode.INVALID_ARGUMENT,
  });
  expect(await refusal(principal(), 'get_order_detail', 'not json')).toMatchObject({
    code: ToolErrorCode.INVALID_ARGUMENT,
    message: 'arguments are not valid JSON',
  });
  expect(t.world.invocations).toHaveLength(0);
  expect(t.ledgerRows).toHaveLength(0);

  const err = await t
    .as(principal())
    .callTool({ toolName: '', argumentsJson: '{}' })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(Code.InvalidArgument);
});

test('an idempotency key answers a retry with the first response: the same pending action, no second one', async () => {
  const t = setup();
  const request = {
    toolName: 'create_ticket',
    argumentsJson: '{"order_id":"202604100018","description":"late"}',
    idempotencyKey: 'mcp-retry-1',
  };
  const first = await t.as(principal()).callTool(request);
  const retry = await t.as(principal()).callTool(request);
  expect(first.outcome.case).toBe('pendingAction');
  expect(retry.outcome).toEqual(first.outcome);
  expect(retry.conversationId).toBe(first.conversationId);

  // The same key for another request of this user is refused; another user's key is theirs.
  const reused = await t
    .as(principal())
    .callTool({ ...request, argumentsJson: '{"order_id":"202604100018","description":"other"}' })
    .catch((e: unknown) => e);
  expect((reused as ConnectError).code).toBe(Code.InvalidArgument);
  const other = await t.as(principal('u_2002')).callTool(request);
  expect(other.conversationId).not.toBe(first.conversationId);

  // A refusal keeps nothing: after the cause is gone, the retry with the key runs.
  const readOnly = principal('u_1001', readPermissions);
  const refused = await t.as(readOnly).callTool({ ...request, idempotencyKey: 'mcp-retry-2' });
  expect(refused.outcome.case).toBe('error');
  const allowed = await t.as(principal()).callTool({ ...request, idempotencyKey: 'mcp-retry-2' });
  expect(allowed.outcome.case).toBe('pendingAction');
  expect(t.tickets).toHaveLength(0);
});

test('DecideToolCall approves a held write with the tool result, once; another user cannot; a decline writes nothing', async () => {
  const t = setup();
  const hold = async (description: string) => {
    const res = await t.as(principal()).callTool({
      toolName: 'create_ticket',
      argumentsJson: JSON.stringify({ order_id: '202604100018', description }),
    });
    if (res.outcome.case !== 'pendingAction') throw new Error('expected a pending action');
    return { conversationId: res.conversationId, actionId: res.outcome.value.actionId };
  };
  const held = await hold('late');
  const stranger = await t
    .as(principal('u_2002'))
    .decideToolCall({ ...held, approve: true })
    .catch((e: unknown) => e);
  expect((stranger as ConnectError).code).toBe(Code.NotFound);
  // The same user id in another tenant is someone else too.
  const otherTenant = await t
    .as(principal('u_1001', undefined, 't_other'))
    .decideToolCall({ ...held, approve: true })
    .catch((e: unknown) => e);
  expect((otherTenant as ConnectError).code).toBe(Code.NotFound);
  const readOnly = await t
    .as(principal('u_1001', readPermissions))
    .decideToolCall({ ...held, approve: true })
    .catch((e: unknown) => e);
  expect((readOnly as ConnectError).code).toBe(Code.PermissionDenied);
  expect(t.tickets).toHaveLength(0);

  const approved = await t.as(principal()).decideToolCall({ ...held, approve: true });
  expect(approved.outcome).toEqual({ case: 'resultJson', value: '{"ticket_id":"T1"}' });
  expect(approved.execution).toMatchObject({ toolName: 'create_ticket', success: true });
  const repeat = await t.as(principal()).decideToolCall({ ...held, approve: true });
  expect(repeat.outcome).toEqual(approved.outcome);
  expect(t.tickets).toHaveLength(1);

  const declined = await t.as(principal()).decideToolCall({ ...(await hold('never')), approve: false });
  expect(declined.outcome).toEqual({ case: 'declined', value: true });
  expect(t.tickets).toHaveLength(1);
});
