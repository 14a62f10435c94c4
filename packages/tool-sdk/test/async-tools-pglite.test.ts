import { createManualClock, type ManualClock } from '@toolmesh/clock';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { createLogger } from '@toolmesh/telemetry';
import { waitFor } from '@toolmesh/testkit';
import { z } from 'zod';
import {
  type AsyncTool,
  createTaskStore,
  createTaskWorker,
  defineAsyncTool,
  type TaskStore,
  taskMigrations,
  toolErrors,
} from '../src/index.ts';

// The embedded database of `npm start` (PGlite behind its socket server) runs the
// same queue: SKIP LOCKED claims, leases and retries, timed by the clock sent as a parameter.
const logger = createLogger({ service: 'tool-sdk-pglite-test', level: 'silent' });
const principal = { userId: 'u_1001', tenantId: 't_demo', permissions: ['report:read'] };
let db: Database;
let schemas = 0;

beforeAll(async () => {
  db = await openDatabase();
});

afterAll(async () => {
  await db?.close();
});

async function freshStore(clock: ManualClock): Promise<{ schema: string; store: TaskStore }> {
  const schema = `reports_${++schemas}`;
  await migrate(db.pool, { schema, migrations: taskMigrations(schema) });
  return { schema, store: createTaskStore({ pool: db.pool, schema, clock }) };
}

// Polls (testkit's generous deadline), moving the manual clock on between probes so workers' timers fall due.
function driveUntil<T>(clock: ManualClock, probe: () => Promise<T | undefined>, stepMs = 50): Promise<T> {
  return waitFor(
    async () => {
      const value = await probe();
      if (value === undefined) await clock.advance(stepMs);
      return value;
    },
    { what: 'the tasks to get there', intervalMs: 5, timeoutMs: 60_000 },
  ) as Promise<T>;
}

function reportTool(name: string, run: AsyncTool['run']) {
  return defineAsyncTool({
    name,
    description: 'test tool',
    input: z.strictObject({ n: z.number().int() }),
    metadata: { sideEffect: 'read', permission: 'report:read' },
    run,
  });
}

test('two workers share the queue on embedded PGlite: each task runs once, retries work', async () => {
  const clock = createManualClock();
  const { schema, store } = await freshStore(clock);
  const runs = new Map<string, number>();
  const tool = reportTool('pglite_report', async (args, ctx) => {
    const { n } = args as { n: number };
    runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
    // Odd tasks fail once, retryably.
    if (n % 2 === 1 && ctx.attempt === 1) throw toolErrors.unavailable('try again');
    await ctx.reportProgress(50);
    return { n };
  });
  const workers = [1, 2].map(() =>
    createTaskWorker({ pool: db.pool, schema, tools: [tool], logger, concurrency: 3, clock }),
  );
  for (const w of workers) w.start();
  const tasks = await Promise.all(
    Array.from({ length: 10 }, (_, n) =>
      store.enqueue({ toolName: tool.name, principal, argumentsJson: JSON.stringify({ n }) }),
    ),
  );
  const read = () => Promise.all(tasks.map((t) => store.get(t.taskId, principal)));
  // Retries wait on the clock (1 s base backoff), so they only happen as the test moves it.
  const done = await driveUntil(
    clock,
    async () => {
      const all = await read();
      return all.every((t) => t?.status === 'succeeded') ? all : undefined;
    },
    250,
  );
  await Promise.all(workers.map((w) => w.stop(0)));
  expect(done.map((t) => [t?.status, t?.attempts, JSON.parse(t?.resultJson ?? 'null')])).toEqual(
    Array.from({ length: 10 }, (_, n) => ['succeeded', n % 2 === 1 ? 2 : 1, { n }]),
  );
  expect([...runs.values()].reduce((a, b) => a + b, 0)).toBe(15);
});

test('on embedded PGlite a dead worker’s task is taken over once its lease lapsed on the clock', async () => {
  const clock = createManualClock();
  const { schema, store } = await freshStore(clock);
  const leaseMs = 1_000;
  const starts: number[] = [];
  const tool = reportTool('pglite_hangs_once', async (_args, ctx) => {
    starts.push(ctx.attempt);
    if (ctx.attempt === 1) return new Promise(() => {});
    return { recovered: true };
  });
  const options = { pool: db.pool, schema, tools: [tool], logger, clock, leaseMs };
  const first = createTaskWorker(options);
  first.start();
  const task = await store.enqueue({ toolName: tool.name, principal, argumentsJson: '{"n":1}' });
  await driveUntil(
    clock,
    async () => ((await store.get(task.taskId, principal))?.status === 'running' ? true : undefined),
    0,
  );
  await first.stop(0);

  const second = createTaskWorker(options);
  second.start();
  await clock.advance(leaseMs - 1);
  expect(await store.claim([tool.name], leaseMs)).toBeUndefined();
  expect(starts).toEqual([1]);
  await clock.advance(1);
  const done = await driveUntil(clock, async () => {
    const r = await store.get(task.taskId, principal);
    return r?.status === 'succeeded' ? r : undefined;
  });
  await second.stop(0);
  expect(done).toMatchObject({ status: 'succeeded', attempts: 2 });
  expect(starts).toEqual([1, 2]);
});
