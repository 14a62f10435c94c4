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
import { createInventoryServer, inventoryMigrations, inventorySchema } from '../src/index.ts';

type PrincipalInit = Omit<Principal, '$typeName'>;

const logger = createLogger({ service: 'inventory-test', level: 'silent' });
const allPermissions = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read', 'ticket:write'];
const u1001: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions: allPermissions };

let testDb: TestDatabase;
let db: Database;
let server: Server;
let meshKeys: TestMeshKeys;
let client: ReturnType<typeof createGrpcClient<typeof ToolService>>;

beforeAll(async () => {
  meshKeys = await createTestMeshKeys();
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema: inventorySchema, migrations: inventoryMigrations });
  server = createInventoryServer({ pool: db.readPool, logger, meshKeys: meshKeys.keys });
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
  toolName: 'get_inventory_snapshot',
  argumentsJson: typeof argumentsJson === 'string' ? argumentsJson : JSON.stringify(argumentsJson),
});

// As the orchestrator calls: a credential for this tool and call, signed for the end user.
async function invoke(argumentsJson: unknown, principal: PrincipalInit = u1001) {
  const call = request(argumentsJson);
  const res = await client.invokeTool(call, await meshKeys.toolCall(principal, call));
  return res.outcome;
}

test('ListTools publishes get_inventory_snapshot with its JSON Schema and metadata', async () => {
  const { tools } = await client.listTools({}, await meshKeys.registryCall());
  expect(tools.map((t) => t.name)).toEqual(['get_inventory_snapshot']);
  const schema = JSON.parse(tools[0]?.inputSchemaJson ?? '');
  expect(schema).toMatchObject({
    type: 'object',
    required: ['skus'],
    additionalProperties: false,
    properties: {
      skus: {
        type: 'array',
        minItems: 1,
        maxItems: 50,
        items: { type: 'string', pattern: '^[A-Z0-9-]{1,32}$' },
      },
    },
  });
  expect(tools[0]?.metadata).toMatchObject({
    permission: 'inventory:read',
    sideEffect: SideEffect.READ,
    idempotent: true,
    timeout: { seconds: 3n, nanos: 0 },
    cacheTtl: { seconds: 2n, nanos: 0 },
  });
});

test('answers the demo stock in request order, deduplicated, with unknown skus apart', async () => {
  const outcome = await invoke({ skus: ['SKU-2002', 'SKU-9999', 'SKU-1001', 'SKU-2002', 'SKU-3003'] });
  expect(outcome.case).toBe('resultJson');
  expect(JSON.parse(String(outcome.value))).toEqual({
    items: [
      { sku: 'SKU-2002', name: 'USB-C Cable 2m', available: 0, restock_date: '2026-12-05' },
      { sku: 'SKU-1001', name: 'Wireless Mouse', available: 12, restock_date: null },
      { sku: 'SKU-3003', name: 'Laptop Stand', available: 5, restock_date: null },
    ],
    unknown_skus: ['SKU-9999'],
  });
});

test('a principal without inventory:read is denied', async () => {
  const outcome = await invoke({ skus: ['SKU-1001'] }, { ...u1001, permissions: ['order:read'] });
  expect(outcome.case === 'error' && outcome.value.code).toBe(ToolErrorCode.PERMISSION_DENIED);
});

test('a call without a credential, with a forged one or with one for another tool or call is UNAUTHENTICATED', async () => {
  const call = request({ skus: ['SKU-1001'] });
  expect(await rpcCode(client.invokeTool(call))).toBe(Code.Unauthenticated);
  const forger = await createTestMeshKeys();
  expect(await rpcCode(client.invokeTool(call, await forger.toolCall(u1001, call)))).toBe(
    Code.Unauthenticated,
  );
  const forOtherTool = await meshKeys.toolCall(u1001, { ...call, toolName: 'get_dispatch_plan' });
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
  ['a wrong type', { skus: 'SKU-1001' }],
  ['a lower-case sku', { skus: ['sku-1001'] }],
  ['an over-long sku', { skus: ['S'.repeat(33)] }],
  ['no skus', { skus: [] }],
  ['too many skus', { skus: Array.from({ length: 51 }, (_, i) => `SKU-${i}`) }],
  ['an extra key', { skus: ['SKU-1001'], warehouse: 'any' }],
  ['bad JSON', '{"skus": ['],
])('%s is an invalid argument', async (_case, args) => {
  const outcome = await invoke(args);
  expect(outcome.case === 'error' && outcome.value.code).toBe(ToolErrorCode.INVALID_ARGUMENT);
});
