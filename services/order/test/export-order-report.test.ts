import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import {
  Health,
  HealthCheckResponse_ServingStatus,
  type Principal,
  type Task,
  TaskService,
  TaskStatus,
  ToolErrorCode,
  ToolService,
} from '@toolmesh/proto';
import { createGrpcClient, type Server } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import {
  createTestDatabase,
  createTestMeshKeys,
  type TestDatabase,
  type TestMeshKeys,
  waitFor,
} from '@toolmesh/testkit';
import { createTaskWorker, type TaskWorker } from '@toolmesh/tool-sdk';
import { createOrderServer, createOrderTools, orderMigrations, orderSchema } from '../src/index.ts';

type PrincipalInit = Omit<Principal, '$typeName'>;

const logger = createLogger({ service: 'order-report-test', level: 'silent' });
const allPermissions = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read', 'ticket:write'];
const u1001: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions: allPermissions };

const expectedCsv =
  'order_id,status,pay_status,logistics_no,sku,name,quantity\r\n' +
  '202604100018,shipped,paid,SF1234567890,SKU-1001,Wireless Mouse,1\r\n' +
  '202604100018,shipped,paid,SF1234567890,SKU-2002,USB-C Cable 2m,2\r\n';

const toolName = 'export_order_report';

// The same scenario on the real Postgres and on the embedded PGlite of `npm start`.
describe.each([
  ['Postgres', true],
  ['embedded PGlite', false],
])('export_order_report on %s', (_name, realPostgres) => {
  let testDb: TestDatabase | undefined;
  let db: Database;
  let server: Server;
  let worker: TaskWorker;
  let address: string;
  let tools: ReturnType<typeof createGrpcClient<typeof ToolService>>;
  let tasks: ReturnType<typeof createGrpcClient<typeof TaskService>>;
  let meshKeys: TestMeshKeys;
  // The export's pauses wait on this clock: a task cannot finish before the test moves it.
  const pauses = createManualClock();

  beforeAll(async () => {
    meshKeys = await createTestMeshKeys();
    testDb = realPostgres ? await createTestDatabase() : undefined;
    db = await openDatabase({ url: testDb?.url });
    await migrate(db.pool, { schema: orderSchema, migrations: orderMigrations });
    server = createOrderServer({ pool: db.pool, logger, meshKeys: meshKeys.keys });
    worker = createTaskWorker({
      pool: db.pool,
      schema: orderSchema,
      tools: createOrderTools(db.readPool, { clock: pauses }),
      logger,
    });
    address = `127.0.0.1:${await server.listen(0)}`;
    worker.start();
    server.health.setAll(true);
    tools = createGrpcClient(ToolService, { address });
    tasks = createGrpcClient(TaskService, { address });
  });

  afterAll(async () => {
    await Promise.all([server?.shutdown(1_000), worker?.stop(1_000)]);
    await db?.close();
    await testDb?.drop();
  });

  async function invoke(args: unknown, principal: PrincipalInit = u1001) {
    const call = { toolCallId: 'call_report', toolName, argumentsJson: JSON.stringify(args) };
    const res = await tools.invokeTool(call, await meshKeys.toolCall(principal, call));
    return res.outcome;
  }

  // A TaskService call as the orchestrator signs it: for this task, as `userId` of t_demo.
  const as = (taskId: string, userId = 'u_1001') => meshKeys.taskCall({ ...u1001, userId }, toolName, taskId);

  async function watch(taskId: string, userId = 'u_1001', seen: Task[] = []): Promise<Task[]> {
    for await (const res of tasks.watchTask({ taskId }, await as(taskId, userId)))
      if (res.task) seen.push(res.task);
    return seen;
  }

  // Watches the task to its end, moving the export's clock on only once the watcher has seen
  // the task as it is now: every state it goes through is seen, however slow the machine.
  async function watchToEnd(taskId: string): Promise<Task[]> {
    const seen: Task[] = [];
    let done = false;
    let failed: unknown;
    const watching = watch(taskId, 'u_1001', seen).then(
      () => {
        done = true;
      },
      (error: unknown) => {
        failed = error;
      },
    );
    await waitFor(
      async () => {
        if (done || failed) return true;
        const { task: now } = await tasks.getTask({ taskId }, await as(taskId));
        const last = seen.at(-1);
        if (!last || last.status !== now?.status || last.progressPercent !== now?.progressPercent)
          return false;
        await pauses.advance(100);
        return false;
      },
      { what: 'the export task to end', intervalMs: 10, timeoutMs: 60_000 },
    );
    await watching;
    if (failed) throw failed;
    return seen;
  }

  test('answers a task_id before the export ran; WatchTask follows the task to its CSV report', async () => {
    const outcome = await invoke({ order_id: '202604100018' });
    if (outcome.case !== 'resultJson') throw new Error(`expected a task: ${JSON.stringify(outcome)}`);
    const answer = JSON.parse(outcome.value) as { task_id: string; status: string };
    expect(answer).toEqual({ task_id: expect.stringMatching(/^task_[0-9a-f]{32}$/), status: 'queued' });
    // The export is held by its clock, which has not moved: the call did not wait for it.
    const { task: meanwhile } = await tasks.getTask({ taskId: answer.task_id }, await as(answer.task_id));
    expect([TaskStatus.QUEUED, TaskStatus.RUNNING]).toContain(meanwhile?.status);
    expect(meanwhile?.resultJson).toBe('');

    const seen = await watchToEnd(answer.task_id);
    const last = seen.at(-1);
    expect(last?.status).toBe(TaskStatus.SUCCEEDED);
    expect(last?.progressPercent).toBe(100);
    expect(seen.some((t) => t.status === TaskStatus.RUNNING && t.progressPercent === 50)).toBe(true);
    // Progress only grows while the task runs.
    const progress = seen.map((t) => t.progressPercent);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(JSON.parse(last?.resultJson ?? '')).toEqual({
      order_id: '202604100018',
      format: 'csv',
      content: expectedCsv,
      rows: 2,
    });

    const { task } = await tasks.getTask({ taskId: answer.task_id }, await as(answer.task_id));
    expect(task).toMatchObject({ toolName: 'export_order_report', status: TaskStatus.SUCCEEDED });

    // Another user sees no such task, by GetTask or WatchTask. One call at a time: a rejection
    // that arrives before its expect is attached would count as unhandled.
    for (const call of [
      async () => tasks.getTask({ taskId: answer.task_id }, await as(answer.task_id, 'u_2002')),
      () => watch(answer.task_id, 'u_2002'),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: Code.NotFound });
    }
    // The owner's credential for another task, or none, reads nothing of this one.
    const otherTask = 'task_00000000000000000000000000000001';
    for (const call of [
      async () => tasks.getTask({ taskId: answer.task_id }, await as(otherTask)),
      () => tasks.getTask({ taskId: answer.task_id }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: Code.Unauthenticated });
    }
  });

  test('the JSON format carries the order and its items', async () => {
    const outcome = await invoke({ order_id: '202604100018', format: 'json' });
    if (outcome.case !== 'resultJson') throw new Error(`expected a task: ${JSON.stringify(outcome)}`);
    const seen = await watchToEnd((JSON.parse(outcome.value) as { task_id: string }).task_id);
    const result = JSON.parse(seen.at(-1)?.resultJson ?? '');
    expect(result).toMatchObject({ order_id: '202604100018', format: 'json', rows: 2 });
    expect(JSON.parse(result.content)).toEqual({
      order: {
        order_id: '202604100018',
        status: 'shipped',
        pay_status: 'paid',
        logistics_no: 'SF1234567890',
        created_at: '2026-04-10T08:12:00.000Z',
      },
      items: [
        { sku: 'SKU-1001', name: 'Wireless Mouse', quantity: 1 },
        { sku: 'SKU-2002', name: 'USB-C Cable 2m', quantity: 2 },
      ],
    });
  });

  test("another user's order is NOT_FOUND at once, and no task is created", async () => {
    const before = await db.pool.query('SELECT count(*)::int AS n FROM orders.tasks');
    const foreign = await invoke({ order_id: '202604100042' });
    const missing = await invoke({ order_id: '209912319999' });
    expect(foreign.case === 'error' && foreign.value.code).toBe(ToolErrorCode.NOT_FOUND);
    expect(missing.case === 'error' && missing.value.code).toBe(ToolErrorCode.NOT_FOUND);
    const badFormat = await invoke({ order_id: '202604100018', format: 'xlsx' });
    expect(badFormat.case === 'error' && badFormat.value.code).toBe(ToolErrorCode.INVALID_ARGUMENT);
    const after = await db.pool.query('SELECT count(*)::int AS n FROM orders.tasks');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  test('TaskService is served with health and reflection; a bad task id is INVALID_ARGUMENT', async () => {
    const health = createGrpcClient(Health, { address });
    const res = await health.check({ service: 'toolmesh.v1.TaskService' });
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const error = await tasks.getTask({ taskId: 'nope' }, await as('nope')).catch((e: unknown) => e);
    expect(ConnectError.from(error).code).toBe(Code.InvalidArgument);
    const { tools: listed } = await tools.listTools({}, await meshKeys.registryCall());
    expect(listed.find((t) => t.name === 'export_order_report')?.metadata).toMatchObject({
      async: true,
      permission: 'order:read',
    });
  });
});
