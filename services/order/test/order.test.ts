import { Code } from '@connectrpc/connect';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { type Principal, SideEffect, ToolErrorCode, ToolService } from '@toolmesh/proto';
import { createGrpcClient, credentialHeaders, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import {
  createTestDatabase,
  createTestMeshKeys,
  rpcCode,
  type TestDatabase,
  type TestMeshKeys,
} from '@toolmesh/testkit';
import { createOrderServer, loadConfig, orderMigrations, orderSchema } from '../src/index.ts';

type PrincipalInit = Omit<Principal, '$typeName'>;

const logger = createLogger({ service: 'order-test', level: 'silent' });
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
  await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
  server = createOrderServer({ pool: db.pool, logger, meshKeys: meshKeys.keys });
  const port = await server.listen(0);
  client = createGrpcClient(ToolService, { address: `127.0.0.1:${port}` });
});

afterAll(async () => {
  await server?.shutdown(1_000);
  await db?.close();
  await testDb?.drop();
});

// As the orchestrator calls: a credential for this tool and call, signed for the end user.
async function invoke(argumentsJson: unknown, principal: PrincipalInit = u1001) {
  const call = {
    toolCallId: 'call_1',
    toolName: 'get_order_detail',
    argumentsJson: typeof argumentsJson === 'string' ? argumentsJson : JSON.stringify(argumentsJson),
  };
  const res = await client.invokeTool(call, await meshKeys.toolCall(principal, call));
  return res.outcome;
}

const taskCount = async () =>
  (await db.pool.query('SELECT count(*)::int AS n FROM orders.tasks')).rows[0].n as number;

async function result(argumentsJson: unknown, principal?: PrincipalInit) {
  const outcome = await invoke(argumentsJson, principal);
  if (outcome.case !== 'resultJson') throw new Error(`expected a result, got ${JSON.stringify(outcome)}`);
  return JSON.parse(outcome.value) as unknown;
}

async function errorCode(argumentsJson: unknown, principal?: PrincipalInit) {
  const outcome = await invoke(argumentsJson, principal);
  return outcome.case === 'error' ? outcome.value : undefined;
}

test('migrations are idempotent', async () => {
  expect(await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations })).toEqual([]);
  const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM orders.orders');
  expect(rows[0].n).toBe(2);
});

test('ListTools publishes get_order_detail with its JSON Schema and metadata', async () => {
  const { tools } = await client.listTools({}, await meshKeys.registryCall());
  expect(tools.map((t) => t.name)).toEqual(['get_order_detail', 'export_order_report']);
  const tool = tools[0];
  const schema = JSON.parse(tool?.inputSchemaJson ?? '');
  expect(schema).toMatchObject({
    type: 'object',
    required: ['order_id'],
    additionalProperties: false,
    properties: {
      order_id: { type: 'string', pattern: '^[0-9]{12}$' },
      include_items: { type: 'boolean', default: false },
    },
  });
  expect(schema.properties.order_id.description).toEqual(expect.any(String));
  expect(tool?.metadata).toMatchObject({
    permission: 'order:read',
    sideEffect: SideEffect.READ,
    idempotent: true,
    allowParallel: true,
    timeout: { seconds: 3n, nanos: 0 },
    cacheTtl: { seconds: 5n, nanos: 0 },
  });
});

test('returns the demo order of its owner, items only on request', async () => {
  const detail = {
    order_id: '202604100018',
    status: 'shipped',
    pay_status: 'paid',
    logistics_no: 'SF1234567890',
    dispatch_node: 'Shanghai-DC-03',
    invoice_ready: false,
    created_at: '2026-04-10T08:12:00.000Z',
  };
  expect(await result({ order_id: '202604100018' })).toEqual(detail);
  expect(await result({ order_id: '202604100018', include_items: true })).toEqual({
    ...detail,
    items: [
      { sku: 'SKU-1001', name: 'Wireless Mouse', quantity: 1 },
      { sku: 'SKU-2002', name: 'USB-C Cable 2m', quantity: 2 },
    ],
  });
  const u2002 = { ...u1001, userId: 'u_2002' };
  expect(await result({ order_id: '202604100042' }, u2002)).toMatchObject({
    status: 'paid',
    logistics_no: null,
    dispatch_node: null,
  });
});

test("another user's order answers exactly like a missing one", async () => {
  const foreign = await errorCode({ order_id: '202604100042' });
  const missing = await errorCode({ order_id: '209912319999' });
  expect(foreign?.code).toBe(ToolErrorCode.NOT_FOUND);
  expect(missing?.code).toBe(ToolErrorCode.NOT_FOUND);
  expect(foreign?.message.replace('202604100042', 'X')).toBe(missing?.message.replace('209912319999', 'X'));
  // Same user id in another tenant is another user.
  const otherTenant = await errorCode({ order_id: '202604100018' }, { ...u1001, tenantId: 't_other' });
  expect(otherTenant?.code).toBe(ToolErrorCode.NOT_FOUND);
});

test('a principal without order:read is denied', async () => {
  const denied = await errorCode({ order_id: '202604100018' }, { ...u1001, permissions: ['ticket:read'] });
  expect(denied?.code).toBe(ToolErrorCode.PERMISSION_DENIED);
});

test('a call without a credential, or with one of a key the mesh does not know, is UNAUTHENTICATED and enqueues nothing', async () => {
  const forger = await createTestMeshKeys();
  const tasksBefore = await taskCount();
  for (const toolName of ['get_order_detail', 'export_order_report']) {
    const call = { toolCallId: 'call_forged', toolName, argumentsJson: '{"order_id":"202604100018"}' };
    expect(await rpcCode(client.invokeTool(call))).toBe(Code.Unauthenticated);
    const forged = await forger.toolCall(u1001, call);
    expect(await rpcCode(client.invokeTool(call, forged))).toBe(Code.Unauthenticated);
  }
  expect(await rpcCode(client.listTools({}))).toBe(Code.Unauthenticated);
  expect(await rpcCode(client.listTools({}, await forger.registryCall()))).toBe(Code.Unauthenticated);
  // The async tool would have enqueued a task for a good call: none was.
  expect(await taskCount()).toBe(tasksBefore);
});

test('a credential is good for its own tool and call only', async () => {
  const call = {
    toolCallId: 'call_2',
    toolName: 'get_order_detail',
    argumentsJson: '{"order_id":"202604100018"}',
  };
  const forOtherCall = await meshKeys.toolCall(u1001, { ...call, toolCallId: 'call_3' });
  expect(await rpcCode(client.invokeTool(call, forOtherCall))).toBe(Code.Unauthenticated);
  const forOtherTool = await meshKeys.toolCall(u1001, { ...call, toolName: 'export_order_report' });
  expect(await rpcCode(client.invokeTool(call, forOtherTool))).toBe(Code.Unauthenticated);
  const withKey = await meshKeys.toolCall(u1001, { ...call, idempotencyKey: 'k1' });
  expect(await rpcCode(client.invokeTool({ ...call, idempotencyKey: 'k2' }, withKey))).toBe(
    Code.Unauthenticated,
  );
  // A tool of another service is not good here either.
  const forTicket = await meshKeys.toolCall(u1001, { ...call, toolName: 'create_ticket' });
  expect(await rpcCode(client.invokeTool({ ...call, toolName: 'create_ticket' }, forTicket))).toBe(
    Code.Unauthenticated,
  );
  // The registry's credential lists tools and calls none.
  expect(await rpcCode(client.invokeTool(call, await meshKeys.registryCall()))).toBe(Code.Unauthenticated);
});

test('a delegated credential reads as its user for sub-calls of the call it was issued for only', async () => {
  const token = await meshKeys.delegation(u1001, 'get_order_detail', 'call_ticket', 'create_ticket');
  const delegated = { headers: credentialHeaders(token) };
  const read = (toolCallId: string) =>
    client.invokeTool(
      { toolCallId, toolName: 'get_order_detail', argumentsJson: '{"order_id":"202604100018"}' },
      delegated,
    );
  const res = await read('call_ticket:order-check');
  expect(res.outcome.case === 'resultJson' && JSON.parse(res.outcome.value)).toMatchObject({
    order_id: '202604100018',
  });
  // Not the call itself, not another call's sub-call, not a call whose id merely starts the same.
  for (const toolCallId of ['call_ticket', 'call_other:order-check', 'call_ticket2:order-check']) {
    expect(await rpcCode(read(toolCallId))).toBe(Code.Unauthenticated);
  }
  // The user is the delegation's: u_2002's order stays NOT_FOUND through it.
  const foreign = await client.invokeTool(
    {
      toolCallId: 'call_ticket:order-check',
      toolName: 'get_order_detail',
      argumentsJson: '{"order_id":"202604100042"}',
    },
    delegated,
  );
  expect(foreign.outcome.case === 'error' && foreign.outcome.value.code).toBe(ToolErrorCode.NOT_FOUND);
});

test.each([
  ['a wrong type', { order_id: 202604100018 }],
  ['a malformed order number', { order_id: '2026-0410' }],
  ['an extra key', { order_id: '202604100018', user_id: 'u_2002' }],
  ['a missing order number', {}],
  ['bad JSON', '{"order_id": '],
])('%s is an invalid argument', async (_case, args) => {
  const error = await errorCode(args);
  expect(error?.code).toBe(ToolErrorCode.INVALID_ARGUMENT);
  expect(error?.retryable).toBe(false);
});

test('loadConfig applies defaults and names invalid variables', () => {
  // The mesh's public keys are the one thing a tool service cannot default.
  const base = { TOOLMESH_MESH_JWKS_FILE: '/etc/toolmesh/mesh-jwks.json' };
  expect(loadConfig(base)).toMatchObject({
    port: 50061,
    host: '127.0.0.1',
    databaseUrl: undefined,
    logLevel: 'info',
    taskConcurrency: 2,
    // /metrics on the DESIGN.md port; no spans exported without an OTLP endpoint.
    telemetry: { metricsPort: 9411, tracing: { exporter: 'none' } },
    meshAuth: { jwks: { file: '/etc/toolmesh/mesh-jwks.json' } },
    tls: undefined,
  });
  expect(loadConfig({ TOOLMESH_MESH_JWKS_URL: 'http://orchestrator:9401/jwks.json' }).meshAuth).toEqual({
    jwks: { url: 'http://orchestrator:9401/jwks.json' },
  });
  // Without them no caller could be verified: the service refuses to start rather than trust anyone.
  expect(() => loadConfig({})).toThrow(/TOOLMESH_MESH_JWKS_FILE or TOOLMESH_MESH_JWKS_URL is required/);
  expect(() => loadConfig({ ...base, TOOLMESH_TLS_CERT_FILE: '/tls/tls.crt' })).toThrow(
    /TOOLMESH_TLS_KEY_FILE, TOOLMESH_TLS_CA_FILE not/,
  );
  expect(loadConfig({ ...base, METRICS_PORT: 'off' }).telemetry.metricsPort).toBeUndefined();
  expect(
    loadConfig({
      ...base,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
      OTEL_SERVICE_NAME: 'orders',
    }).telemetry.tracing,
  ).toMatchObject({ exporter: 'otlp', endpoint: 'http://collector:4318/v1/traces', serviceName: 'orders' });
  expect(() => loadConfig({ ...base, METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
  expect(() => loadConfig({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
    /OTEL_EXPORTER_OTLP_PROTOCOL/,
  );
  expect(loadConfig({ ...base, PORT: '', DATABASE_URL: 'postgres://u@db:5432/app' })).toMatchObject({
    port: 50061,
    databaseUrl: 'postgres://u@db:5432/app',
  });
  expect(() => loadConfig({ ...base, PORT: 'abc' })).toThrow(/PORT/);
  expect(() => loadConfig({ ...base, DATABASE_URL: 'mysql://u:secret@db/app' })).toThrow(/DATABASE_URL/);
  expect(() => loadConfig({ ...base, LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  expect(() => loadConfig({ ...base, TASK_CONCURRENCY: '0' })).toThrow(/TASK_CONCURRENCY/);
});
