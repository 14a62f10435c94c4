// AuditService over real Postgres, served in process behind the error boundary: an
// operator reads its own tenant's records; every tenant's needs audit:read:all-tenants;
// audit:read is checked here too; malformed filters are INVALID_ARGUMENT, never INTERNAL.
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { AuditService, type Principal, PrincipalSchema } from '@toolmesh/proto';
import { createErrorBoundary, publicError } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import { auditReadAllTenantsPermission, createAuditService } from '../src/audit-service.ts';
import { createExecutionLedger, type ExecutionStart, migrations, schema } from '../src/store/index.ts';

let testDb: TestDatabase;
let db: Database;

const who = (userId: string, tenantId: string, permissions: string[]) =>
  create(PrincipalSchema, { userId, tenantId, permissions });
const callers: Record<string, Principal> = {
  demoOperator: who('op_1', 't_demo', ['audit:read']),
  otherOperator: who('op_9', 't_other', ['audit:read']),
  everyTenant: who('op_0', 't_ops', ['audit:read', auditReadAllTenantsPermission]),
  // The cross-tenant permission alone does not open the audit log.
  allTenantsOnly: who('op_x', 't_ops', [auditReadAllTenantsPermission]),
  user: who('u_1001', 't_demo', ['order:read']),
};

// The test's stand-in for the verified credential: which caller, by name.
const client = () =>
  createClient(
    AuditService,
    createRouterTransport(
      (router) =>
        createAuditService(db.pool, {
          principalOf: (ctx) => {
            const principal = callers[ctx.requestHeader.get('x-test-caller') ?? ''];
            if (!principal) throw publicError(Code.Unauthenticated, 'no verified principal');
            return principal;
          },
        }).register(router),
      {
        router: {
          interceptors: [
            createErrorBoundary({ logger: createLogger({ service: 'audit-test', level: 'silent' }) }),
          ],
        },
      },
    ),
  );
const list = (caller: string, request: Parameters<ReturnType<typeof client>['listAuditRecords']>[0] = {}) =>
  client().listAuditRecords(request, { headers: { 'x-test-caller': caller } });
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'answered',
    (e: unknown) => (e instanceof ConnectError ? Code[e.code] : 'thrown'),
  );

const conversationId = '00000000-0000-4000-8000-00000000a0d1';

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema, migrations });
  const ledger = createExecutionLedger(db.pool);
  const execution = (tenantId: string, toolCallId: string): ExecutionStart => ({
    requestId: 'r',
    conversationId,
    toolCallId,
    toolName: 'get_order_detail',
    userId: 'u_1001',
    tenantId,
    sideEffect: 'read',
    idempotencyKey: toolCallId,
    toolAddress: 'x',
    maskedArgumentsJson: '{}',
  });
  const end = { success: true, resultCode: 'OK', durationMs: 1, cached: false };
  await ledger.record(execution('t_demo', 'demo_1'), end);
  await ledger.record(execution('t_demo', 'demo_2'), end);
  await ledger.record(execution('t_other', 'other_1'), end);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

test("an operator reads its own tenant's records only, even filtering by a user id both tenants have", async () => {
  const demo = await list('demoOperator', { userId: 'u_1001' });
  expect(demo.records.map((r) => [r.tenantId, r.toolCallId])).toEqual([
    ['t_demo', 'demo_2'],
    ['t_demo', 'demo_1'],
  ]);
  const other = await list('otherOperator');
  expect(other.records.map((r) => [r.tenantId, r.toolCallId])).toEqual([['t_other', 'other_1']]);
  // Paging stays within the tenant.
  const first = await list('demoOperator', { pageSize: 1 });
  expect(first.records.map((r) => r.toolCallId)).toEqual(['demo_2']);
  const next = await list('demoOperator', { pageSize: 1, pageToken: first.nextPageToken });
  expect(next.records.map((r) => r.toolCallId)).toEqual(['demo_1']);
  expect(next.nextPageToken).toBe('');
});

test('every tenant needs audit:read:all-tenants; audit:read is checked by the service itself', async () => {
  const all = await list('everyTenant', { conversationId });
  expect(all.records.map((r) => r.toolCallId)).toEqual(['other_1', 'demo_2', 'demo_1']);
  expect(await codeOf(list('allTenantsOnly'))).toBe('PermissionDenied');
  expect(await codeOf(list('user'))).toBe('PermissionDenied');
  expect(await codeOf(list('nobody'))).toBe('Unauthenticated');
});

test('malformed filters are INVALID_ARGUMENT, never INTERNAL', async () => {
  const bad = [
    { userId: 'u_1001\u0000' },
    { toolName: '\u0000' },
    { toolName: 'get_order_detail\u001b[2K' },
    { userId: 'x'.repeat(10_000) },
    { conversationId: '\u0000' },
    { conversationId: '------------------------------------' },
    { conversationId: 'not-a-uuid' },
    { pageToken: '\u0000' },
    { pageToken: 'garbage' },
    { pageToken: '-1' },
    { pageToken: '99999999999999999999999' },
  ];
  for (const request of bad) {
    expect([request, await codeOf(list('demoOperator', request))]).toEqual([request, 'InvalidArgument']);
  }
  // Well-formed filters that match nothing are an empty page.
  expect((await list('demoOperator', { toolName: 'nothing', userId: 'u_404' })).records).toEqual([]);
});
