// Tenants share nothing: a user id is only a user within its tenant. get_dispatch_plan is
// called in process with the principal the mesh credential would carry, on the real Postgres.
import { create } from '@bufbuild/protobuf';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import type { Tool } from '@toolmesh/tool-sdk';
import { createDispatchTools, dispatchMigrations, dispatchSchema } from '../src/index.ts';

type PrincipalInit = Pick<Principal, 'userId' | 'tenantId' | 'permissions'>;

const logger = createLogger({ service: 'dispatch-tenancy-test', level: 'silent' });
const demo: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions: ['dispatch:read'] };
const other: PrincipalInit = { ...demo, tenantId: 't_other' };

let testDb: TestDatabase;
let db: Database;
let getDispatchPlan: Tool;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema: dispatchSchema, migrations: dispatchMigrations });
  [getDispatchPlan] = createDispatchTools(db.readPool) as [Tool];
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

// What the tool service hands a handler: the principal of the verified call.
const call = (args: unknown, principal: PrincipalInit) =>
  getDispatchPlan
    .handler(getDispatchPlan.input.parse(args), {
      principal: create(PrincipalSchema, principal),
      toolCallId: 'call_tenancy',
      requestId: 'req_tenancy',
      idempotencyKey: '',
      signal: new AbortController().signal,
      remainingMs: () => 10_000,
      logger,
      credentialFor: () => undefined,
    })
    .then(
      (result) => ({ result }),
      (error: { code?: string; message: string }) => ({ code: error.code, message: error.message }),
    );

const demoPlan = {
  order_id: '202604100018',
  dispatch_node: 'Shanghai-DC-03',
  carrier: 'SF Express',
  status: 'in_transit',
  logistics_no: 'SF1234567890',
  estimated_delivery: '2026-04-13',
};

test("the seeded plans are t_demo's", async () => {
  const { rows } = await db.pool.query('SELECT DISTINCT tenant_id FROM dispatch.plans');
  expect(rows).toEqual([{ tenant_id: 't_demo' }]);
});

test("u_1001 of t_other sees nothing of t_demo's u_1001: NOT_FOUND exactly like a missing plan", async () => {
  expect(await call({ order_id: '202604100018' }, demo)).toEqual({ result: demoPlan });
  expect(await call({ order_id: '202604100018' }, other)).toEqual({
    code: 'NOT_FOUND',
    message: 'no dispatch plan found for order 202604100018',
  });
  expect(await call({ order_id: '209912319999' }, other)).toEqual({
    code: 'NOT_FOUND',
    message: 'no dispatch plan found for order 209912319999',
  });
});

test('each tenant numbers its own orders: the same number in two tenants has two plans', async () => {
  await db.pool.query(
    `INSERT INTO dispatch.plans
       (order_id, user_id, tenant_id, dispatch_node, carrier, status, logistics_no, estimated_delivery)
     VALUES ('202604100018', 'u_1001', 't_other', 'Berlin-DC-01', 'DHL', 'scheduled', NULL, '2026-05-03')`,
  );
  expect(await call({ order_id: '202604100018' }, other)).toEqual({
    result: {
      order_id: '202604100018',
      dispatch_node: 'Berlin-DC-01',
      carrier: 'DHL',
      status: 'scheduled',
      logistics_no: null,
      estimated_delivery: '2026-05-03',
    },
  });
  expect(await call({ order_id: '202604100018' }, demo)).toEqual({ result: demoPlan });
});
