import { Code } from '@connectrpc/connect';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { type Principal, SideEffect, ToolErrorCode, ToolService } from '@toolmesh/proto';
import { createGrpcClient, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import {
  createTestDatabase,
  createTestMeshKeys,
  rpcCode,
  type TestDatabase,
  type TestMeshKeys,
} from '@toolmesh/testkit';
import { createDispatchServer, dispatchMigrations, dispatchSchema } from '../src/index.ts';

type PrincipalInit = Omit<Principal, '$typeName'>;

const logger = createLogger({ service: 'dispatch-test', level: 'silent' });
const allPermissions = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read', 'ticket:write'];
const u1001: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions: allPermissions };
const u2002: PrincipalInit = { ...u1001, userId: 'u_2002' };

let testDb: TestDatabase;
let db: Database;
let server: Server;
let meshKeys: TestMeshKeys;
let client: ReturnType<typeof createGrpcClient<typeof ToolService>>;

beforeAll(async () => {
  meshKeys = await createTestMeshKeys();
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema: dispatchSchema, migrations: dispatchMigrations });
  server = createDispatchServer({ pool: db.readPool, logger, meshKeys: meshKeys.keys });
  const port = await server.listen(0);
  client = createGrpcClient(ToolService, { address: `127.0.0.1:${port}` });
});

afterAll(async () => {
  await server?.shutdown(1_000);
  await db?.close();
  await testDb?.drop();
});

const request = (argumentsJson: unknown) => ({
  toolCallId: 'call_1',
  toolName: 'get_dispatch_plan',
  argumentsJson: typeof argumentsJson === 'string' ? argumentsJson : JSON.stringify(argumentsJson),
});

// As the orchestrator calls: a credential for this tool and call, signed for the end user.
async function invoke(argumentsJson: unknown, principal: PrincipalInit = u1001) {
  const call = request(argumentsJson);
  const res = await client.invokeTool(call, await meshKeys.toolCall(principal, call));
  return res.outcome;
}

async function result(argumentsJson: unknown, principal?: PrincipalInit) {
  const outcome = await invoke(argumentsJson, principal);
  if (outcome.case !== 'resultJson') throw new Error(`expected a result, got ${JSON.stringify(outcome)}`);
  return JSON.parse(outcome.value) as unknown;
}

test('ListTools publishes get_dispatch_plan with its JSON Schema and metadata', async () => {
  const { tools } = await client.listTools({}, await meshKeys.registryCall());
  expect(tools.map((t) => t.name)).toEqual(['get_dispatch_plan']);
  const schema = JSON.parse(tools[0]?.inputSchemaJson ?? '');
  expect(schema).toMatchObject({
    type: 'object',
    required: ['order_id'],
    additionalProperties: false,
    properties: { order_id: { type: 'string', pattern: '^[0-9]{12}$' } },
  });
  expect(tools[0]?.metadata).toMatchObject({
    permission: 'dispatch:read',
    sideEffect: SideEffect.READ,
    timeout: { seconds: 3n, nanos: 0 },
  });
});

test("returns each user's own demo plan", async () => {
  expect(await result({ order_id: '202604100018' })).toEqual({
    order_id: '202604100018',
    dispatch_node: 'Shanghai-DC-03',
    carrier: 'SF Express',
    status: 'in_transit',
    logistics_no: 'SF1234567890',
    estimated_delivery: '2026-04-13',
  });
  expect(await result({ order_id: '202604100042' }, u2002)).toEqual({
    order_id: '202604100042',
    dispatch_node: 'Shanghai-DC-03',
    carrier: 'SF Express',
    status: 'scheduled',
    logistics_no: null,
    estimated_delivery: '2026-04-15',
  });
});

test("another user's plan answers exactly like a missing one", async () => {
  const foreign = await invoke({ order_id: '202604100042' });
  const missing = await invoke({ order_id: '209912319999' });
  if (foreign.case !== 'error' || missing.case !== 'error') throw new Error('expected errors');
  expect(foreign.value.code).toBe(ToolErrorCode.NOT_FOUND);
  expect(missing.value.code).toBe(ToolErrorCode.NOT_FOUND);
  expect(foreign.value.message.replace('202604100042', 'X')).toBe(
    missing.value.message.replace('209912319999', 'X'),
  );
});

test('a principal without dispatch:read is denied', async () => {
  const outcome = await invoke({ order_id: '202604100018' }, { ...u1001, permissions: ['order:read'] });
  expect(outcome.case === 'error' && outcome.value.code).toBe(ToolErrorCode.PERMISSION_DENIED);
});

test('a call without a credential, with a forged one or with one for another tool or call is UNAUTHENTICATED', async () => {
  const call = request({ order_id: '202604100018' });
  expect(await rpcCode(client.invokeTool(call))).toBe(Code.Unauthenticated);
  const forger = await createTestMeshKeys();
  expect(await rpcCode(client.invokeTool(call, await forger.toolCall(u1001, call)))).toBe(
    Code.Unauthenticated,
  );
  const forOtherTool = await meshKeys.toolCall(u1001, { ...call, toolName: 'get_inventory_snapshot' });
  expect(await rpcCode(client.invokeTool(call, forOtherTool))).toBe(Code.Unauthenticated);
  const forOtherCall = await meshKeys.toolCall(u1001, { ...call, toolCallId: 'call_2' });
  expect(await rpcCode(client.invokeTool(call, forOtherCall))).toBe(Code.Unauthenticated);
  expect(await rpcCode(client.listTools({}))).toBe(Code.Unauthenticated);
  // The same call, signed by the mesh: answered.
  expect((await client.invokeTool(call, await meshKeys.toolCall(u1001, call))).outcome.case).toBe(
    'resultJson',
  );
});

test.each([
  ['a wrong type', { order_id: 202604100018 }],
  ['an extra key', { order_id: '202604100018', user_id: 'u_2002' }],
  ['bad JSON', 'order 202604100018'],
])('%s is an invalid argument', async (_case, args) => {
  const outcome = await invoke(args);
  expect(outcome.case === 'error' && outcome.value.code).toBe(ToolErrorCode.INVALID_ARGUMENT);
});
