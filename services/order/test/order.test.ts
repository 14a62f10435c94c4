import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { type Principal, SideEffect, ToolErrorCode, ToolService } from '@toolmesh/proto';
import { createGrpcClient, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import { createOrderServer, loadConfig, orderMigrations, orderSchema } from '../src/index.ts';

type PrincipalInit = Omit<Principal, '$typeName'>;

const logger = createLogger({ service: 'order-test', level: 'silent' });
const allPermissions = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read', 'ticket:write'];
const u1001: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions: allPermissions };

let testDb: TestDatabase;
let db: Database;
let server: Server;
let client: ReturnType<typeof createGrpcClient<typeof ToolService>>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
  server = createOrderServer({ pool: db.pool, logger });
  const port = await server.listen(0);
  client = createGrpcClient(ToolService, { address: `127.0.0.1:${port}` });
});

afterAll(async () => {
  await server?.shutdown(1_000);
  await db?.close();
  await testDb?.drop();
});

async function invoke(argumentsJson: unknown, principal: PrincipalInit = u1001) {
  const res = await client.invokeTool({
    toolCallId: 'call_1',
    toolName: 'get_order_detail',
    argumentsJson: typeof argumentsJson === 'string' ? argumentsJson : JSON.stringify(argumentsJson),
    principal,
  });
  return res.outcome;
}

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
  const { tools } = await client.listTools({});
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
  expect(loadConfig({})).toMatchObject({
    port: 50061,
    host: '127.0.0.1',
    databaseUrl: undefined,
    logLevel: 'info',
    taskConcurrency: 2,
    // /metrics on the DESIGN.md port; no spans exported without an OTLP endpoint.
    telemetry: { metricsPort: 9411, tracing: { exporter: 'none' } },
  });
  expect(loadConfig({ METRICS_PORT: 'off' }).telemetry.metricsPort).toBeUndefined();
  expect(
    loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'orders' })
      .telemetry.tracing,
  ).toMatchObject({ exporter: 'otlp', endpoint: 'http://collector:4318/v1/traces', serviceName: 'orders' });
  expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
  expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL/);
  expect(loadConfig({ PORT: '', DATABASE_URL: 'postgres://u@db:5432/app' })).toMatchObject({
    port: 50061,
    databaseUrl: 'postgres://u@db:5432/app',
  });
  expect(() => loadConfig({ PORT: 'abc' })).toThrow(/PORT/);
  expect(() => loadConfig({ DATABASE_URL: 'mysql://u:secret@db/app' })).toThrow(/DATABASE_URL/);
  expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  expect(() => loadConfig({ TASK_CONCURRENCY: '0' })).toThrow(/TASK_CONCURRENCY/);
});
