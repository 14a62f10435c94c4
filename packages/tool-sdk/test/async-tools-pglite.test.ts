import { setTimeout as sleep } from 'node:timers/promises';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { createLogger } from '@toolmesh/telemetry';
import { z } from 'zod';
import {
  createTaskStore,
  createTaskWorker,
  defineAsyncTool,
  taskMigrations,
  toolErrors,
} from '../src/index.ts';

// The embedded database of `npm start` (PGlite behind its socket server) runs the
// same queue: SKIP LOCKED claims, leases, retries.
const logger = createLogger({ service: 'tool-sdk-pglite-test', level: 'silent' });
const schema = 'reports';
let db: Database;

beforeAll(async () => {
  db = await openDatabase();
  await migrate(db.pool, { schema, migrations: taskMigrations(schema) });
});

afterAll(async () => {
  await db?.close();
});

test('two workers share the queue on embedded PGlite: each task runs once, retries work', async () => {
  const runs = new Map<string, number>();
  const tool = defineAsyncTool({
    name: 'pglite_report',
    description: 'test tool',
    input: z.strictObject({ n: z.number().int() }),
    metadata: { sideEffect: 'read', permission: 'report:read' },
    async run(args, ctx) {
      runs.set(ctx.taskId, (runs.get(ctx.taskId) ?? 0) + 1);
      // Odd tasks fail once, retryably.
      if (args.n % 2 === 1 && ctx.attempt === 1) throw toolErrors.unavailable('try again');
      await ctx.reportProgress(50);
      await sleep(10);
      return { n: args.n };
    },
  });
  const workers = [1, 2].map(() =>
    createTaskWorker({ pool: db.pool, schema, tools: [tool], logger, concurrency: 3, retryBaseMs: 20 }),
  );
  for (const w of workers) w.start();
  const store = createTaskStore({ pool: db.pool, schema });
  const principal = { userId: 'u_1001', tenantId: 't_demo', permissions: ['report:read'] };
  const tasks = await Promise.all(
    Array.from({ length: 10 }, (_, n) =>
      store.enqueue({ toolName: tool.name, principal, argumentsJson: JSON.stringify({ n }) }),
    ),
  );
  const deadline = Date.now() + 20_000;
  let done = await Promise.all(tasks.map((t) => store.get(t.taskId, principal)));
  while (done.some((t) => t?.status !== 'succeeded') && Date.now() < deadline) {
    await sleep(50);
    done = await Promise.all(tasks.map((t) => store.get(t.taskId, principal)));
  }
  await Promise.all(workers.map((w) => w.stop(1_000)));
  expect(done.map((t) => [t?.status, t?.attempts, JSON.parse(t?.resultJson ?? 'null')])).toEqual(
    Array.from({ length: 10 }, (_, n) => ['succeeded', n % 2 === 1 ? 2 : 1, { n }]),
  );
  expect([...runs.values()].reduce((a, b) => a + b, 0)).toBe(15);
});
