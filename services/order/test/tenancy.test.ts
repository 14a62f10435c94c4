// Tenants share nothing: a user id is only a user within its tenant. The order tools run
// as a principal, here called in process with the principal the mesh credential would
// carry, on a real database (Postgres, and the embedded PGlite of `npm start`).
import { create } from '@bufbuild/protobuf';
import { type Clock, createManualClock } from '@toolmesh/clock';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import { type AsyncTool, isAsyncTool, type Tool } from '@toolmesh/tool-sdk';
import { createOrderTools, orderMigrations, orderSchema } from '../src/index.ts';

type PrincipalInit = Pick<Principal, 'userId' | 'tenantId' | 'permissions'>;

const logger = createLogger({ service: 'order-tenancy-test', level: 'silent' });
const demo: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions: ['order:read'] };
const other: PrincipalInit = { ...demo, tenantId: 't_other' };

const demoOrder = {
  order_id: '202604100018',
  status: 'shipped',
  pay_status: 'paid',
  logistics_no: 'SF1234567890',
  dispatch_node: 'Shanghai-DC-03',
  invoice_ready: false,
  created_at: '2026-04-10T08:12:00.000Z',
};
const demoItems = [
  { sku: 'SKU-1001', name: 'Wireless Mouse', quantity: 1 },
  { sku: 'SKU-2002', name: 'USB-C Cable 2m', quantity: 2 },
];

// What the tool service hands a handler: the principal of the verified call.
const context = (principal: PrincipalInit) => ({
  principal: create(PrincipalSchema, principal),
  toolCallId: 'call_tenancy',
  requestId: 'req_tenancy',
  idempotencyKey: '',
  signal: new AbortController().signal,
  remainingMs: () => 10_000,
  logger,
  credentialFor: () => undefined,
});

const call = (tool: Tool, args: unknown, principal: PrincipalInit) =>
  tool.handler(tool.input.parse(args), context(principal));

// The task's work, as the worker runs it for the principal stored with the task.
const runTask = (tool: AsyncTool, args: unknown, principal: PrincipalInit) =>
  tool.run(tool.input.parse(args), {
    principal: create(PrincipalSchema, principal),
    taskId: 'task_00000000000000000000000000000001',
    attempt: 1,
    signal: new AbortController().signal,
    reportProgress: async () => {},
    logger,
  });

// What a caller learns: the failure's code and message, or the result.
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    (result) => ({ result }),
    (error: { code?: string; message: string }) => ({ code: error.code, message: error.message }),
  );

describe.each([
  ['Postgres', true],
  ['embedded PGlite', false],
])('order tenancy on %s', (_name, realPostgres) => {
  let testDb: TestDatabase | undefined;
  let db: Database;
  let getOrderDetail: Tool;
  let exportReport: AsyncTool;
  // The export's pauses only stand in for slow work: here they pass at once.
  const clock: Clock = { ...createManualClock(), sleep: () => Promise.resolve() };

  beforeAll(async () => {
    testDb = realPostgres ? await createTestDatabase() : undefined;
    db = await openDatabase({ url: testDb?.url });
    await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
    const tools = createOrderTools(db.readPool, { clock });
    getOrderDetail = tools.find((t) => t.name === 'get_order_detail') as Tool;
    const exporter = tools.find((t) => t.name === 'export_order_report');
    if (!exporter || !isAsyncTool(exporter)) throw new Error('export_order_report is not an async tool');
    exportReport = exporter;
  }, 60_000);

  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  test("the seeded orders are t_demo's, their lines too", async () => {
    const { rows } = await db.pool.query(
      `SELECT o.order_id, o.tenant_id, array_agg(DISTINCT i.tenant_id) AS line_tenants
         FROM orders.orders o JOIN orders.order_items i USING (order_id)
        GROUP BY o.order_id, o.tenant_id ORDER BY o.order_id`,
    );
    expect(rows).toEqual([
      { order_id: '202604100018', tenant_id: 't_demo', line_tenants: ['t_demo'] },
      { order_id: '202604100042', tenant_id: 't_demo', line_tenants: ['t_demo'] },
    ]);
  });

  test("u_1001 of t_other sees nothing of t_demo's u_1001: NOT_FOUND exactly like a missing order", async () => {
    expect(await call(getOrderDetail, { order_id: '202604100018', include_items: true }, demo)).toEqual({
      ...demoOrder,
      items: demoItems,
    });
    const foreign = await outcome(call(getOrderDetail, { order_id: '202604100018' }, other));
    const missing = await outcome(call(getOrderDetail, { order_id: '209912319999' }, other));
    expect(foreign).toEqual({ code: 'NOT_FOUND', message: 'order 202604100018 not found' });
    expect(missing).toEqual({ code: 'NOT_FOUND', message: 'order 209912319999 not found' });
    // With items asked for too: nothing of the lines leaks either.
    expect(
      await outcome(call(getOrderDetail, { order_id: '202604100018', include_items: true }, other)),
    ).toEqual(foreign);
  });

  test("export_order_report: t_other's u_1001 gets NOT_FOUND at the call and in the task", async () => {
    const args = { order_id: '202604100018' };
    expect(await outcome(call(exportReport, args, other))).toEqual({
      code: 'NOT_FOUND',
      message: 'order 202604100018 not found',
    });
    // A task that reached the worker (e.g. the order changed hands since) checks again.
    expect(await outcome(runTask(exportReport, args, other))).toEqual({
      code: 'NOT_FOUND',
      message: 'order 202604100018 not found',
    });
    // The owner's call passes its check (the async handler answers nothing; the SDK enqueues).
    expect(await outcome(call(exportReport, args, demo))).toEqual({ result: undefined });
  });

  test('each tenant numbers its own orders: the same number in two tenants are two orders', async () => {
    await db.pool.query(
      `INSERT INTO orders.orders (order_id, user_id, tenant_id, status, pay_status, created_at)
       VALUES ('202604100018', 'u_1001', 't_other', 'paid', 'unpaid', '2026-05-01T10:00:00Z')`,
    );
    await db.pool.query(
      `INSERT INTO orders.order_items (tenant_id, order_id, sku, name, quantity)
       VALUES ('t_other', '202604100018', 'SKU-3003', 'Laptop Stand', 4)`,
    );
    expect(await call(getOrderDetail, { order_id: '202604100018', include_items: true }, other)).toEqual({
      order_id: '202604100018',
      status: 'paid',
      pay_status: 'unpaid',
      logistics_no: null,
      dispatch_node: null,
      invoice_ready: false,
      created_at: '2026-05-01T10:00:00.000Z',
      items: [{ sku: 'SKU-3003', name: 'Laptop Stand', quantity: 4 }],
    });
    // t_demo's order and lines are untouched and unmixed.
    expect(await call(getOrderDetail, { order_id: '202604100018', include_items: true }, demo)).toEqual({
      ...demoOrder,
      items: demoItems,
    });

    // The export of each tenant's report holds that tenant's lines only.
    const reportOf = async (principal: PrincipalInit) =>
      (await runTask(exportReport, { order_id: '202604100018', format: 'json' }, principal)) as {
        content: string;
      };
    const [otherReport, demoReport] = [await reportOf(other), await reportOf(demo)];
    expect(JSON.parse(otherReport.content).items).toEqual([
      { sku: 'SKU-3003', name: 'Laptop Stand', quantity: 4 },
    ]);
    expect(JSON.parse(demoReport.content).items).toEqual(demoItems);
  });

  test('a line can only belong to an order of its own tenant', async () => {
    await expect(
      db.pool.query(
        `INSERT INTO orders.order_items (tenant_id, order_id, sku, name, quantity)
         VALUES ('t_third', '202604100042', 'SKU-1001', 'Wireless Mouse', 1)`,
      ),
    ).rejects.toThrow(/foreign key/);
  });
});

test("upgrading a database of the earlier schema gives each order line its order's tenant", async () => {
  const testDb = await createTestDatabase();
  const db = await openDatabase({ url: testDb.url });
  try {
    // Migrated as before tenant keys, with an order of another tenant already in it.
    await migrate(db.pool, {
      schema: orderSchema,
      migrations: orderMigrations.filter((m) => m.version <= 2),
    });
    await db.pool.query(
      `INSERT INTO orders.orders (order_id, user_id, tenant_id, status, pay_status)
       VALUES ('202605010001', 'u_1001', 't_other', 'paid', 'paid')`,
    );
    await db.pool.query(
      `INSERT INTO orders.order_items (order_id, sku, name, quantity)
       VALUES ('202605010001', 'SKU-3003', 'Laptop Stand', 1)`,
    );
    const applied = await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
    expect(applied[0]).toBe(3);
    const { rows } = await db.pool.query(
      'SELECT order_id, sku, tenant_id FROM orders.order_items ORDER BY order_id, sku',
    );
    expect(rows).toEqual([
      { order_id: '202604100018', sku: 'SKU-1001', tenant_id: 't_demo' },
      { order_id: '202604100018', sku: 'SKU-2002', tenant_id: 't_demo' },
      { order_id: '202604100042', sku: 'SKU-1001', tenant_id: 't_demo' },
      { order_id: '202605010001', sku: 'SKU-3003', tenant_id: 't_other' },
    ]);
  } finally {
    await db.close();
    await testDb.drop();
  }
});
