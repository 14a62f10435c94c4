// Stock is the one operator's catalogue, shared by every tenant on purpose (see the
// migrations): the same answer for a user of any tenant, and nothing of a user in it.
import { create } from '@bufbuild/protobuf';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { type Principal, PrincipalSchema } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import type { Tool } from '@toolmesh/tool-sdk';
import { createInventoryTools, inventoryMigrations, inventorySchema } from '../src/index.ts';

type PrincipalInit = Pick<Principal, 'userId' | 'tenantId' | 'permissions'>;

const logger = createLogger({ service: 'inventory-tenancy-test', level: 'silent' });

let testDb: TestDatabase;
let db: Database;
let snapshot: Tool;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema: inventorySchema, migrations: inventoryMigrations });
  [snapshot] = createInventoryTools(db.readPool) as [Tool];
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

const call = (principal: PrincipalInit) =>
  snapshot.handler(snapshot.input.parse({ skus: ['SKU-1001', 'SKU-2002', 'SKU-9999'] }), {
    principal: create(PrincipalSchema, principal),
    toolCallId: 'call_tenancy',
    requestId: 'req_tenancy',
    idempotencyKey: '',
    signal: new AbortController().signal,
    remainingMs: () => 10_000,
    logger,
    credentialFor: () => undefined,
  });

test('stock is catalogue data: the same for u_1001 of t_demo and of t_other', async () => {
  const demo = await call({ userId: 'u_1001', tenantId: 't_demo', permissions: ['inventory:read'] });
  const other = await call({ userId: 'u_1001', tenantId: 't_other', permissions: ['inventory:read'] });
  expect(demo).toEqual({
    items: [
      { sku: 'SKU-1001', name: 'Wireless Mouse', available: 12, restock_date: null },
      { sku: 'SKU-2002', name: 'USB-C Cable 2m', available: 0, restock_date: '2026-12-05' },
    ],
    unknown_skus: ['SKU-9999'],
  });
  expect(other).toEqual(demo);
  // Nothing in the table names a user, a tenant or an order.
  const { rows } = await db.pool.query(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = 'inventory' AND table_name = 'stock' ORDER BY ordinal_position`,
  );
  expect(rows.map((r) => r.column_name)).toEqual(['sku', 'name', 'available', 'restock_date']);
});
