import { setImmediate } from 'node:timers/promises';
import { Code, ConnectError } from '@connectrpc/connect';
import { type Clock, createManualClock, type ManualClock } from '@toolmesh/clock';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import {
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
  waitFor as pollUntil,
  rpcCode,
  type TestDatabase,
  type TestMeshKeys,
} from '@toolmesh/testkit';
import { z } from 'zod';
import {
  type AsyncTool,
  createTaskStore,
  createTaskWorker,
  createToolServer,
  defineAsyncTool,
  type TaskRecord,
  type TaskStore,
  type TaskWorker,
  type TaskWorkerOptions,
  taskIdPattern,
  taskMigrations,
  toolErrors,
} from '../src/index.ts';

type PrincipalInit = Omit<Principal, '$typeName'>;

const logger = createLogger({ service: 'tool-sdk-test', level: 'silent' });
const alice: PrincipalInit = { userId: 'u_1001', tenantId: 't_demo', permissions: ['report:read'] };
const bob: PrincipalInit = { userId: 'u_2002', tenantId: 't_demo', permissions: ['report:read'] };

let testDb: TestDatabase;
let db: Database;
let meshKeys: TestMeshKeys;
let schemaCounter = 0;
const workers: TaskWorker[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  meshKeys = await createTestMeshKeys();
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop(0)));
  await Promise.all(servers.splice(0).map((s) => s.shutdown(500)));
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

// A schema per test: leftovers of one test are never claimed by the next.
// With a manual clock, the test's store must share the workers' clock: it stamps run_after.
async function freshSchema(clock?: Clock): Promise<{ schema: string; store: TaskStore }> {
  const schema = `tasks_test_${++schemaCounter}`;
  await migrate(db.pool, { schema, migrations: taskMigrations(schema) });
  return { schema, store: createTaskStore({ pool: db.pool, schema, clock }) };
}

function startWorker(schema: string, tools: AsyncTool[], extra: Partial<TaskWorkerOptions> = {}) {
  const worker = createTaskWorker({
    pool: db.pool,
    schema,
    tools,
    logger,
    pollIntervalMs: 25,
    retryBaseMs: 20,
    ...extra,
  });
  worker.start();
  workers.push(worker);
  return worker;
}

function enqueue(store: TaskStore, tool: AsyncTool, args: unknown, principal: PrincipalInit = alice) {
  return store.enqueue({
    toolName: tool.name,
    principal,
    argumentsJson: JSON.stringify(args),
    maxAttempts: tool.maxAttempts,
  });
}

// Polls a condition the workers bring about (testkit's generous deadline: a slow machine waits longer).
const waitFor = <T>(probe: () => Promise<T | undefined>): Promise<T> =>
  pollUntil(probe, { what: 'the task state the test expects', intervalMs: 10 }) as Promise<T>;

/** A promise the test resolves: a task's work waits on it, so the test decides when the work ends. */
function gate() {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Like waitFor, moving a manual clock on by stepMs between probes so timers on it fall due. */
function driveUntil<T>(clock: ManualClock, probe: () => Promise<T | undefined>, stepMs = 25): Promise<T> {
  return waitFor(async () => {
    const value = await probe();
    if (value === undefined) await clock.advance(stepMs);
    return value;
  });
}

const statusOf = async (store: TaskStore, taskId: string) => (await store.get(taskId, alice))?.status;

const finished = (store: TaskStore, taskId: string, owner = alice) =>
  waitFor(async () => {
    const r = await store.get(taskId, owner);
    return r && ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
  });

function asyncTool(name: string, run: AsyncTool['run'], extra: { maxAttempts?: number } = {}) {
  return defineAsyncTool({
    name,
    description: `test tool ${name}`,
    input: z.strictObject({ value: z.string().max(20).default('x') }),
    metadata: { sideEffect: 'read', permission: 'report:read' },
    run,
    ...extra,
  });
}

async function startServer(schema: string, tools: AsyncTool[], watchPollMs?: number, clock?: Clock) {
  const server = createToolServer({
    logger,
    tools,
    tasks: { pool: db.pool, schema },
    taskService: { pool: db.pool, schema, pollIntervalMs: watchPollMs, clock },
    meshKeys: meshKeys.keys,
  });
  servers.push(server);
  const address = `127.0.0.1:${await server.listen(0)}`;
  const toolName = tools[0]?.name ?? '';
  return {
    tools: createGrpcClient(ToolService, { address }),
    tasks: createGrpcClient(TaskService, { address }),
    /** Options of a TaskService call for `taskId`, as the orchestrator signs them for `userId`. */
    as: (taskId: string, userId: string, tenantId = 't_demo') =>
      meshKeys.taskCall({ userId, tenantId, permissions: [] }, toolName, taskId),
  };
}

/** InvokeTool as `principal`, with the credential the orchestrator would issue for this call. */
async function invokeAs(
  tools: ReturnType<typeof createGrpcClient<typeof ToolService>>,
  req: {
    toolCallId?: string;
    toolName: string;
    argumentsJson: string;
    idempotencyKey?: string;
    principal: PrincipalInit;
  },
) {
  const { principal, ...call } = req;
  return tools.invokeTool(call, await meshKeys.toolCall(principal, call));
}

test('InvokeTool validates, enqueues and answers at once; the worker runs the task as its user', async () => {
  const { schema, store } = await freshSchema();
  const seen: { user: string; attempt: number; value: string }[] = [];
  const work = gate();
  const report = defineAsyncTool({
    name: 'make_report',
    description: 'builds a report; answers with a task_id',
    input: z.strictObject({
      value: z.string().regex(/^[a-z]+$/),
      format: z.enum(['csv', 'json']).default('csv'),
    }),
    metadata: { sideEffect: 'read', permission: 'report:read' },
    async precheck(args) {
      if (args.value === 'missing') throw toolErrors.notFound('no such report');
    },
    async run(args, ctx) {
      seen.push({ user: ctx.principal.userId, attempt: ctx.attempt, value: args.value });
      await work.opened;
      await ctx.reportProgress(50);
      return { value: args.value, format: args.format };
    },
  });
  const { tools, tasks, as } = await startServer(schema, [report]);
  startWorker(schema, [report]);

  const listed = await tools.listTools({}, await meshKeys.registryCall());
  expect(listed.tools[0]?.metadata?.async).toBe(true);

  // The work cannot finish until the test opens the gate: the call answers all the same.
  const res = await invokeAs(tools, {
    toolCallId: 'call_1',
    toolName: 'make_report',
    argumentsJson: '{"value":"abc"}',
    principal: alice,
  });
  if (res.outcome.case !== 'resultJson') throw new Error(`expected a result: ${JSON.stringify(res.outcome)}`);
  expect(res.outcome.value).toMatch(/^\{"task_id":"task_[0-9a-f]{32}","status":"queued"\}$/);
  const { task_id: taskId } = JSON.parse(res.outcome.value) as { task_id: string };
  expect(taskId).toMatch(taskIdPattern);
  expect(['queued', 'running']).toContain(await statusOf(store, taskId));
  work.open();

  const done = await finished(store, taskId);
  expect(done).toMatchObject({ status: 'succeeded', attempts: 1, progressPercent: 100 });
  expect(JSON.parse(done.resultJson ?? '')).toEqual({ value: 'abc', format: 'csv' });
  expect(seen).toEqual([{ user: 'u_1001', attempt: 1, value: 'abc' }]);

  const { task } = await tasks.getTask({ taskId }, await as(taskId, 'u_1001'));
  expect(task).toMatchObject({
    taskId,
    toolName: 'make_report',
    status: TaskStatus.SUCCEEDED,
    progressPercent: 100,
  });
  expect(JSON.parse(task?.resultJson ?? '')).toEqual({ value: 'abc', format: 'csv' });
  expect(task?.error).toBeUndefined();

  // Bad arguments, a failed precheck and a missing permission never create a task.
  const invalid = await invokeAs(tools, {
    toolName: 'make_report',
    argumentsJson: '{"value":"ABC"}',
    principal: alice,
  });
  expect(invalid.outcome.case === 'error' && invalid.outcome.value.code).toBe(ToolErrorCode.INVALID_ARGUMENT);
  const missing = await invokeAs(tools, {
    toolName: 'make_report',
    argumentsJson: '{"value":"missing"}',
    principal: alice,
  });
  expect(missing.outcome.case === 'error' && missing.outcome.value.code).toBe(ToolErrorCode.NOT_FOUND);
  const denied = await invokeAs(tools, {
    toolName: 'make_report',
    argumentsJson: '{"value":"abc"}',
    principal: { ...alice, permissions: [] },
  });
  expect(denied.outcome.case === 'error' && denied.outcome.value.code).toBe(ToolErrorCode.PERMISSION_DENIED);
  // No credential, or one issued for another call or idempotency key: refused before anything runs.
  const call = { toolCallId: 'call_9', toolName: 'make_report', argumentsJson: '{"value":"abc"}' };
  expect(await rpcCode(tools.invokeTool(call))).toBe(Code.Unauthenticated);
  const forCall1 = await meshKeys.toolCall(alice, { ...call, toolCallId: 'call_1' });
  expect(await rpcCode(tools.invokeTool(call, forCall1))).toBe(Code.Unauthenticated);
  const withKey = await meshKeys.toolCall(alice, { ...call, idempotencyKey: 'k1' });
  expect(await rpcCode(tools.invokeTool({ ...call, idempotencyKey: 'k2' }, withKey))).toBe(
    Code.Unauthenticated,
  );
  const gatewaySigned = {
    headers: {
      authorization: `Bearer ${await meshKeys.gateway.issue({ principal: alice, requestId: 'r', audience: 'toolmesh:tool:make_report', tool: 'make_report', callId: 'call_9' })}`,
    },
  };
  expect(await rpcCode(tools.invokeTool(call, gatewaySigned))).toBe(Code.Unauthenticated);
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM ${schema}.tasks`);
  expect(rows[0].n).toBe(1);
});

test('the same idempotency key yields the same task; with other arguments it is a conflict', async () => {
  const { schema } = await freshSchema();
  const tool = asyncTool('idem', async (args) => args);
  const { tools } = await startServer(schema, [tool]);
  const call = (value: string) =>
    invokeAs(tools, {
      toolName: 'idem',
      argumentsJson: JSON.stringify({ value }),
      principal: alice,
      idempotencyKey: 'key-1',
    });
  const first = await call('a');
  const again = await call('a');
  expect(first.outcome.case).toBe('resultJson');
  expect(JSON.parse(String(again.outcome.value)).task_id).toBe(
    JSON.parse(String(first.outcome.value)).task_id,
  );
  const other = await call('b');
  expect(other.outcome.case === 'error' && other.outcome.value.code).toBe(ToolErrorCode.CONFLICT);
});

test('a retryable failure is retried once its backoff passed on the clock, and then succeeds', async () => {
  const clock = createManualClock();
  const { schema, store } = await freshSchema(clock);
  const tool = asyncTool('flaky', async (_args, ctx) => {
    if (ctx.attempt === 1) throw toolErrors.unavailable('backend busy');
    return { attempt: ctx.attempt };
  });
  startWorker(schema, [tool], { clock, retryBaseMs: 1_000 });
  const task = await enqueue(store, tool, {});
  const failed = await waitFor(async () => {
    const r = await store.get(task.taskId, alice);
    return r?.status === 'queued' && r.attempts === 1 ? r : undefined;
  });
  expect(failed.errorCode).toBe('UNAVAILABLE');
  // The first retry waits between half and all of retryBaseMs (equal jitter).
  const backoffMs = failed.runAfter.getTime() - clock.now();
  expect(backoffMs).toBeGreaterThanOrEqual(500);
  expect(backoffMs).toBeLessThanOrEqual(1_000);

  await clock.advance(backoffMs - 1);
  // Not due yet: nobody may claim it, and the worker has not run it again.
  expect(await store.claim([tool.name], 1_000)).toBeUndefined();
  expect(await store.get(task.taskId, alice)).toMatchObject({ status: 'queued', attempts: 1 });

  await clock.advance(1);
  const done = await driveUntil(clock, async () => {
    const r = await store.get(task.taskId, alice);
    return r?.status === 'succeeded' ? r : undefined;
  });
  expect(done).toMatchObject({ status: 'succeeded', attempts: 2, errorCode: null });
  expect(JSON.parse(done.resultJson ?? '')).toEqual({ attempt: 2 });
});

test('failures end the task: at once when not retryable, after max attempts otherwise', async () => {
  const { schema, store } = await freshSchema();
  const down = asyncTool('always_down', async () => {
    throw toolErrors.unavailable('backend down');
  });
  const refused = asyncTool('refused', async () => {
    throw toolErrors.failedPrecondition('order is not shipped yet');
  });
  const buggy = asyncTool(
    'buggy',
    async () => {
      throw new Error('secret internals at 10.0.0.7');
    },
    { maxAttempts: 2 },
  );
  startWorker(schema, [down, refused, buggy]);
  const [a, b, c] = await Promise.all([
    enqueue(store, down, {}),
    enqueue(store, refused, {}),
    enqueue(store, buggy, {}),
  ]);
  expect(await finished(store, a.taskId)).toMatchObject({
    status: 'failed',
    attempts: 3,
    errorCode: 'UNAVAILABLE',
    errorMessage: 'backend down',
  });
  expect(await finished(store, b.taskId)).toMatchObject({
    status: 'failed',
    attempts: 1,
    errorCode: 'FAILED_PRECONDITION',
  });
  const bug = await finished(store, c.taskId);
  // Unexpected errors are retried too, and their message never leaks.
  expect(bug).toMatchObject({ status: 'failed', attempts: 2, errorCode: 'INTERNAL' });
  expect(bug.errorMessage).not.toContain('10.0.0.7');
});

test('a task enqueued while the worker polls is claimed at once: the wake-up is not lost', async () => {
  // The clock never moves here: only the enqueue's wake-up can make the worker look again.
  const clock = createManualClock();
  const { schema } = await freshSchema(clock);
  // The worker's first claim runs, finds nothing, and its answer is held until the task is in.
  const answer = gate();
  const firstClaim = gate();
  let claims = 0;
  const pool = new Proxy(db.pool, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key !== 'query') return typeof value === 'function' ? value.bind(target) : value;
      return async (text: string, values?: unknown[]) => {
        const result = await target.query(text, values);
        if (text.includes('SKIP LOCKED') && ++claims === 1) {
          firstClaim.open();
          await answer.opened;
        }
        return result;
      };
    },
  });
  const tool = asyncTool('report_now', async () => ({ ok: true }));
  const store = createTaskStore({ pool, schema, clock });
  startWorker(schema, [tool], { pool, clock });
  await firstClaim.opened;
  const task = await enqueue(store, tool, {});
  answer.open();
  expect(await finished(store, task.taskId)).toMatchObject({ status: 'succeeded', attempts: 1 });
});

test('a task whose worker died is run again by another worker once its lease lapsed on the clock, once', async () => {
  const clock = createManualClock();
  const { schema, store } = await freshSchema(clock);
  const leaseMs = 600;
  const starts: number[] = [];
  const tool = asyncTool('hangs_once', async (_args, ctx) => {
    starts.push(ctx.attempt);
    // The first attempt hangs and ignores its signal, like a wedged process.
    if (ctx.attempt === 1) return new Promise(() => {});
    return { recovered: true };
  });
  const first = startWorker(schema, [tool], { clock, leaseMs });
  const task = await enqueue(store, tool, {});
  const claimed = await waitFor(async () => {
    const r = await store.get(task.taskId, alice);
    return r?.status === 'running' ? r : undefined;
  });
  expect(claimed.lockedUntil?.getTime()).toBe(clock.now() + leaseMs);
  await first.stop(0);
  // Nothing was written: the row still looks like a running task, leased to the dead worker.
  expect(await store.get(task.taskId, alice)).toMatchObject({ status: 'running', attempts: 1 });

  startWorker(schema, [tool], { clock, leaseMs });
  await clock.advance(leaseMs - 1);
  // A millisecond before the lease lapses, the task is still the dead worker's.
  expect(await store.claim([tool.name], leaseMs)).toBeUndefined();
  expect(await store.get(task.taskId, alice)).toMatchObject({ status: 'running', attempts: 1 });
  expect(starts).toEqual([1]);

  await clock.advance(1);
  const done = await driveUntil(clock, async () => {
    const r = await store.get(task.taskId, alice);
    return r?.status === 'succeeded' ? r : undefined;
  });
  expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
  // Taken over exactly once: more time changes nothing.
  await clock.advance(leaseMs * 3);
  expect(await store.get(task.taskId, alice)).toMatchObject({ status: 'succeeded', attempts: 2 });
  expect(starts).toEqual([1, 2]);
});

test('a live worker renews its lease: after many lease lengths on the clock no other worker ran the task', async () => {
  const clock = createManualClock();
  const { schema, store } = await freshSchema(clock);
  const leaseMs = 300;
  const starts: number[] = [];
  const work = gate();
  const tool = asyncTool('slow', async (_args, ctx) => {
    starts.push(ctx.attempt);
    await work.opened;
    return { ok: true };
  });
  startWorker(schema, [tool], { clock, leaseMs });
  startWorker(schema, [tool], { clock, leaseMs });
  const task = await enqueue(store, tool, {});
  await waitFor(async () => ((await statusOf(store, task.taskId)) === 'running' ? true : undefined));
  for (let step = 0; step < 10; step += 1) {
    // The heartbeat renews every third of the lease; wait until this instant's renewal landed.
    await clock.advance(leaseMs / 3);
    await waitFor(async () => {
      const r = await store.get(task.taskId, alice);
      return r?.lockedUntil?.getTime() === clock.now() + leaseMs ? true : undefined;
    });
  }
  expect(await store.get(task.taskId, alice)).toMatchObject({ status: 'running', attempts: 1 });
  work.open();
  expect(await finished(store, task.taskId)).toMatchObject({ status: 'succeeded', attempts: 1 });
  expect(starts).toEqual([1]);
});

test('two workers never run the same task at once, and each task runs once', async () => {
  const { schema, store } = await freshSchema();
  const active = new Set<string>();
  const runs = new Map<string, number>();
  const overlaps: string[] = [];
  const byWorker = [0, 0];
  const makeTool = (worker: number) =>
    asyncTool('shared', async (_args, ctx) => {
      if (active.has(ctx.taskId)) overlaps.push(ctx.taskId);
      active.add(ctx.taskId);
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      byWorker[worker] = (byWorker[worker] ?? 0) + 1;
      // A few turns of the event loop: the other worker's claims interleave with this run.
      for (let turn = Math.floor(Math.random() * 5); turn >= 0; turn -= 1) await setImmediate();
      active.delete(ctx.taskId);
      return { worker };
    });
  startWorker(schema, [makeTool(0)], { concurrency: 4, pollIntervalMs: 5 });
  startWorker(schema, [makeTool(1)], { concurrency: 4, pollIntervalMs: 5 });
  const tasks = await Promise.all(Array.from({ length: 40 }, () => enqueue(store, makeTool(0), {})));
  const done = await Promise.all(tasks.map((t) => finished(store, t.taskId)));
  expect(done.every((t) => t.status === 'succeeded' && t.attempts === 1)).toBe(true);
  expect(overlaps).toEqual([]);
  expect([...runs.values()].every((n) => n === 1)).toBe(true);
  expect(runs.size).toBe(40);
  expect((byWorker[0] ?? 0) + (byWorker[1] ?? 0)).toBe(40);
});

test('GetTask shows a task to its own user only', async () => {
  const { schema, store } = await freshSchema();
  const tool = asyncTool('private', async () => ({}));
  const { tasks, as } = await startServer(schema, [tool]);
  const task = await enqueue(store, tool, {}, alice);

  const mine = await tasks.getTask({ taskId: task.taskId }, await as(task.taskId, 'u_1001', 't_demo'));
  expect(mine.task).toMatchObject({ taskId: task.taskId, status: TaskStatus.QUEUED, progressPercent: 0 });
  expect(mine.task?.createdAt).toBeDefined();
  expect(
    await rpcCode(tasks.getTask({ taskId: task.taskId }, await as(task.taskId, 'u_1001'))),
  ).toBeUndefined();

  expect(await rpcCode(tasks.getTask({ taskId: task.taskId }, await as(task.taskId, 'u_2002')))).toBe(
    Code.NotFound,
  );
  expect(
    await rpcCode(tasks.getTask({ taskId: task.taskId }, await as(task.taskId, 'u_1001', 't_other'))),
  ).toBe(Code.NotFound);
  expect(
    await rpcCode(
      tasks.getTask({ taskId: `task_${'0'.repeat(32)}` }, await as(`task_${'0'.repeat(32)}`, 'u_1001')),
    ),
  ).toBe(Code.NotFound);
  expect(
    await rpcCode(tasks.getTask({ taskId: 'task_../../etc' }, await as('task_../../etc', 'u_1001'))),
  ).toBe(Code.InvalidArgument);
  expect(await rpcCode(tasks.getTask({ taskId: task.taskId }))).toBe(Code.Unauthenticated);
  // A credential issued for another task, or for a tool call, reads nothing.
  const otherTask = await as(`task_${'2'.repeat(32)}`, 'u_1001');
  expect(await rpcCode(tasks.getTask({ taskId: task.taskId }, otherTask))).toBe(Code.Unauthenticated);
  const toolCall = await meshKeys.toolCall(alice, { toolName: tool.name });
  expect(await rpcCode(tasks.getTask({ taskId: task.taskId }, toolCall))).toBe(Code.Unauthenticated);
  expect(
    await rpcCode(
      tasks
        .watchTask({ taskId: task.taskId }, await as(task.taskId, 'u_2002'))
        [Symbol.asyncIterator]()
        .next(),
    ),
  ).toBe(Code.NotFound);
  // The other user's message is the same as for a missing task.
  const foreign = await tasks
    .getTask({ taskId: task.taskId }, await as(task.taskId, 'u_2002'))
    .catch((e: unknown) => e);
  const absent = await tasks
    .getTask({ taskId: `task_${'1'.repeat(32)}` }, await as(`task_${'1'.repeat(32)}`, 'u_2002'))
    .catch((e: unknown) => e);
  expect(ConnectError.from(foreign).rawMessage).toBe(ConnectError.from(absent).rawMessage);
  const stored: TaskRecord | undefined = await store.get(task.taskId, bob);
  expect(stored).toBeUndefined();
});

test('WatchTask streams queued → running → progress → succeeded and ends', async () => {
  const { schema, store } = await freshSchema();
  const tool = asyncTool('watched', async (_args, ctx) => {
    await ctx.reportProgress(30);
    await ctx.reportProgress(60.4);
    return { done: true };
  });
  // A long poll interval: every step must come from the in-process updates.
  const { tasks, as } = await startServer(schema, [tool], 60_000);
  const task = await enqueue(store, tool, {});
  const seen: Task[] = [];
  const stream = tasks.watchTask({ taskId: task.taskId }, await as(task.taskId, 'u_1001'));
  let workerStarted = false;
  for await (const res of stream) {
    if (res.task) seen.push(res.task);
    // Start the worker once the watch saw the task queued.
    if (!workerStarted) startWorker(schema, [tool]);
    workerStarted = true;
  }
  expect(seen.map((t) => [t.status, t.progressPercent])).toEqual([
    [TaskStatus.QUEUED, 0],
    [TaskStatus.RUNNING, 0],
    [TaskStatus.RUNNING, 30],
    [TaskStatus.RUNNING, 60],
    [TaskStatus.SUCCEEDED, 100],
  ]);
  expect(JSON.parse(seen.at(-1)?.resultJson ?? '')).toEqual({ done: true });
});

test('WatchTask reaches a task run elsewhere by polling, and a cancelled watch ends cleanly', async () => {
  const clock = createManualClock();
  const { schema, store } = await freshSchema(clock);
  const tool = asyncTool('remote', async () => ({ ok: 1 }));
  const { tasks, as } = await startServer(schema, [tool], 50, clock);
  const task = await enqueue(store, tool, {});
  const controller = new AbortController();
  const iterator = tasks
    .watchTask({ taskId: task.taskId }, { ...(await as(task.taskId, 'u_1001')), signal: controller.signal })
    [Symbol.asyncIterator]();
  expect((await iterator.next()).value?.task?.status).toBe(TaskStatus.QUEUED);
  controller.abort();
  expect(await rpcCode(iterator.next())).toBe(Code.Canceled);

  // Another "replica" finishes the task by writing the row; no in-process event reaches the watcher.
  const watch = tasks
    .watchTask({ taskId: task.taskId }, await as(task.taskId, 'u_1001'))
    [Symbol.asyncIterator]();
  expect((await watch.next()).value?.task?.status).toBe(TaskStatus.QUEUED);
  await db.pool.query(
    `UPDATE ${schema}.tasks SET status = 'succeeded', result_json = '{}', progress_percent = 100,
            revision = revision + 1, updated_at = now() WHERE task_id = $1`,
    [task.taskId],
  );
  // The watcher reads the row again each time its poll interval passes on its clock.
  let next: IteratorResult<{ task?: Task }> | undefined;
  const reading = watch.next().then((r) => {
    next = r;
  });
  await driveUntil(clock, async () => next, 50);
  await reading;
  expect(next?.value?.task?.status).toBe(TaskStatus.SUCCEEDED);
  expect((await watch.next()).done).toBe(true);
});

test('a worker stopped gracefully lets its running tasks finish', async () => {
  const clock = createManualClock();
  const { schema, store } = await freshSchema(clock);
  const work = gate();
  const tool = asyncTool('graceful', async () => {
    await work.opened;
    return { ok: true };
  });
  const worker = startWorker(schema, [tool], { clock });
  const task = await enqueue(store, tool, {});
  await waitFor(async () => ((await statusOf(store, task.taskId)) === 'running' ? true : undefined));
  let stopped = false;
  // The grace period is on the manual clock, which does not move: only the task's end can end stop().
  const stopping = worker.stop(5_000).then(() => {
    stopped = true;
  });
  await setImmediate();
  expect(stopped).toBe(false);
  work.open();
  await stopping;
  expect(await store.get(task.taskId, alice)).toMatchObject({ status: 'succeeded', attempts: 1 });
});

test('a worker whose grace period passed on the clock abandons the task without a write', async () => {
  const clock = createManualClock();
  const { schema, store } = await freshSchema(clock);
  const tool = asyncTool('stuck', () => new Promise(() => {}));
  const worker = startWorker(schema, [tool], { clock });
  const task = await enqueue(store, tool, {});
  await waitFor(async () => ((await statusOf(store, task.taskId)) === 'running' ? true : undefined));
  let stopped = false;
  const stopping = worker.stop(5_000).then(() => {
    stopped = true;
  });
  await driveUntil(clock, async () => (stopped ? true : undefined), 5_000);
  await stopping;
  // Left for another worker to take over once the lease lapses, as after a crash.
  expect(await store.get(task.taskId, alice)).toMatchObject({ status: 'running', attempts: 1 });
});
