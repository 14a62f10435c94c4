// Per-(tenant, user) limits on every public RPC, and the cap on open server streams, over
// real gRPC through the gateway's own interceptors (the handlers are stand-ins).
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { createRateLimiter } from '@toolmesh/limits';
import { AssistantService, AuditService, ChatService, TaskService, UsageService } from '@toolmesh/proto';
import {
  createGrpcClient,
  createServer,
  readErrorInfo,
  type Server,
  serviceRegistration,
} from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { waitFor } from '@toolmesh/testkit';
import { createAuthInterceptor } from '../src/auth-interceptor.ts';
import { createApiKeyAuthenticator } from '../src/authenticate.ts';
import { createRateLimitInterceptor } from '../src/rate-limit-interceptor.ts';

const logger = createLogger({ service: 'gateway-rate-limit-test', level: 'silent' });
const principal = (user_id: string, tenant_id: string) => ({ user_id, tenant_id, permissions: [] });
const keys = {
  'key-ann-of-acme-0001': principal('ann', 't_acme'),
  'key-ann-of-other-001': principal('ann', 't_other'),
  'key-bob-of-acme-0001': principal('bob', 't_acme'),
  'key-streamer-000001': principal('streamer', 't_acme'),
  'key-chatter-0000001': principal('chatter', 't_acme'),
};

const servers: Server[] = [];
// Tight rates (burst 3) for the rate test; generous ones for the stream tests, which open many.
let rateAddress: string;
let streamAddress: string;

async function start(publicBurst: number) {
  const server = createServer({
    logger,
    interceptors: [
      createAuthInterceptor(createApiKeyAuthenticator(keys)),
      createRateLimitInterceptor(
        // Rates never refill: the clock does not move.
        createRateLimiter({ clock: createManualClock() }),
        { ratePerSec: 1, burst: 100 },
        { publicRule: { ratePerSec: 1, burst: publicBurst }, maxOpenStreamsPerUser: 2 },
      ),
    ],
    services: [
      serviceRegistration(TaskService, {
        getTask: () => ({}),
        async *watchTask(req, ctx) {
          if (req.taskId === 'fail') throw new ConnectError('no such task', Code.NotFound);
          yield {};
          // Open until the caller goes away.
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        },
      }),
      serviceRegistration(AuditService, { listAuditRecords: () => ({}) }),
      serviceRegistration(AssistantService, { listAssistants: () => ({}) }),
      serviceRegistration(UsageService, { getUsage: () => ({}) }),
      serviceRegistration(ChatService, {
        async *chatStream() {
          yield {};
        },
      }),
    ],
  });
  servers.push(server);
  return `127.0.0.1:${await server.listen(0)}`;
}

beforeAll(async () => {
  rateAddress = await start(3);
  streamAddress = await start(10_000);
});

afterAll(() => Promise.all(servers.map((s) => s.shutdown(100))));

const clientsOf = (key: string, address = streamAddress) => {
  const interceptors = [
    (next: Parameters<import('@connectrpc/connect').Interceptor>[0]) =>
      (req: Parameters<ReturnType<import('@connectrpc/connect').Interceptor>>[0]) => {
        req.header.set('authorization', `Bearer ${key}`);
        return next(req);
      },
  ];
  return {
    tasks: createGrpcClient(TaskService, { address, interceptors }),
    audit: createGrpcClient(AuditService, { address, interceptors }),
    chat: createGrpcClient(ChatService, { address, interceptors }),
    assistants: createGrpcClient(AssistantService, { address, interceptors }),
    usage: createGrpcClient(UsageService, { address, interceptors }),
  };
};
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => ConnectError.from(e),
  );

test('tasks, audit and registry calls are rate limited per (tenant, user), each service on its own budget', async () => {
  const ann = clientsOf('key-ann-of-acme-0001', rateAddress);
  for (let i = 0; i < 3; i++) expect(await outcome(ann.tasks.getTask({ taskId: 't' }))).toBe('ok');
  const refused = await outcome(ann.tasks.getTask({ taskId: 't' }));
  expect(refused).toMatchObject({ code: Code.ResourceExhausted });
  expect(readErrorInfo(refused)).toMatchObject({ reason: 'RATE_LIMITED', metadata: { scope: 'user' } });
  expect(readErrorInfo(refused)?.retryAfterMs).toBeGreaterThan(0);
  // Another service of the same user, the same user id in another tenant, another user: untouched.
  expect(await outcome(ann.audit.listAuditRecords({}))).toBe('ok');
  expect(await outcome(clientsOf('key-ann-of-other-001', rateAddress).tasks.getTask({ taskId: 't' }))).toBe(
    'ok',
  );
  expect(await outcome(clientsOf('key-bob-of-acme-0001', rateAddress).tasks.getTask({ taskId: 't' }))).toBe(
    'ok',
  );
  // Unauthenticated calls never reach the limiter (nor spend anyone's budget).
  expect(
    await outcome(clientsOf('no-such-key-000000', rateAddress).tasks.getTask({ taskId: 't' })),
  ).toMatchObject({
    code: Code.Unauthenticated,
  });
});

test('assistants and usage calls are rate limited by the public rule, each on its own budget', async () => {
  const bob = clientsOf('key-bob-of-acme-0001', rateAddress);
  for (let i = 0; i < 3; i++) expect(await outcome(bob.assistants.listAssistants({}))).toBe('ok');
  const refused = await outcome(bob.assistants.listAssistants({}));
  expect(refused).toMatchObject({ code: Code.ResourceExhausted });
  expect(readErrorInfo(refused)).toMatchObject({ reason: 'RATE_LIMITED', metadata: { scope: 'user' } });
  for (let i = 0; i < 3; i++) expect(await outcome(bob.usage.getUsage({}))).toBe('ok');
  expect(readErrorInfo(await outcome(bob.usage.getUsage({})))).toMatchObject({ reason: 'RATE_LIMITED' });
  // Another user of the same tenant keeps its own budget.
  expect(await outcome(clientsOf('key-chatter-0000001', rateAddress).usage.getUsage({}))).toBe('ok');
});

// Opens a WatchTask and waits for its first message: the stream is then held open.
const openWatch = async (tasks: ReturnType<typeof clientsOf>['tasks'], taskId = 'x') => {
  const controller = new AbortController();
  const stream = tasks.watchTask({ taskId }, { signal: controller.signal })[Symbol.asyncIterator]();
  // Aborting alone leaves the client's deadline timer until the stream is read to its end.
  const close = () => {
    controller.abort();
    stream.next().catch(() => {});
  };
  try {
    await stream.next();
  } catch (error) {
    close();
    throw error;
  }
  return close;
};

test('open server streams are capped per user and the slot comes back when a stream ends', async () => {
  const streamer = clientsOf('key-streamer-000001');
  const first = await openWatch(streamer.tasks);
  const second = await openWatch(streamer.tasks);
  const third = await outcome(openWatch(streamer.tasks));
  expect(third).toMatchObject({
    code: Code.ResourceExhausted,
    rawMessage: 'too many open streams for this user (at most 2); close one and retry',
  });
  // Another user is not held back by this one.
  const bobs = await openWatch(clientsOf('key-bob-of-acme-0001').tasks);
  bobs();

  first();
  // The server sees the cancellation a moment later; then a new stream fits again.
  const again = await waitFor(() => openWatch(streamer.tasks).catch(() => undefined), {
    what: 'the cancelled stream to free its slot',
  });
  again();
  second();
});

test('streams that end by themselves or fail at once do not keep their slot', async () => {
  const chatter = clientsOf('key-chatter-0000001');
  for (let i = 0; i < 5; i++) {
    const events = [];
    for await (const event of chatter.chat.chatStream({ message: 'hi' })) events.push(event);
    expect(events).toHaveLength(1);
  }
  for (let i = 0; i < 5; i++) {
    expect(await outcome(openWatch(chatter.tasks, 'fail'))).toMatchObject({ code: Code.NotFound });
  }
  const held = [await openWatch(chatter.tasks), await openWatch(chatter.tasks)];
  for (const close of held) close();
});
