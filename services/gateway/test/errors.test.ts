// What callers see when the orchestrator refuses, is down, or the rate limit is spent:
// the same codes and messages as before, now with typed details (reason, retry hint).
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { createRateLimiter } from '@toolmesh/limits';
import { AssistantService, ChatService, TaskService, UsageService } from '@toolmesh/proto';
import {
  createGrpcClient,
  createServer,
  errorFor,
  publicError,
  readErrorInfo,
  requireCredential,
  retrySeconds,
  type Server,
  serviceRegistration,
} from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createTestMeshKeys, freePort } from '@toolmesh/testkit';
import {
  createApiKeyAuthenticator,
  createForwardAsCaller,
  createGatewayServer,
  devApiKeys,
} from '../src/index.ts';
import { acceptGatewayCredentials } from './support/accept-gateway-credentials.ts';
import { orchestratorClientsAt } from './support/orchestrator-clients-at.ts';

const logger = createLogger({ service: 'gateway-errors-test', level: 'silent' });
const meshKeys = await createTestMeshKeys();

// The orchestrator's side of the hop: the mesh interceptor and its own error boundary, answering on purpose.
const orchestrator = createServer({
  logger,
  interceptors: [acceptGatewayCredentials(meshKeys.keys)],
  services: [
    serviceRegistration(ChatService, {
      chat(req, ctx) {
        if (req.message === 'model down') throw errorFor('MODEL_UNAVAILABLE', { retryAfterMs: 7_000 });
        if (req.message === 'busy') {
          throw publicError(
            Code.Aborted,
            'another request is running on this conversation; retry when it is done',
          );
        }
        if (req.message === 'bug') throw new Error('relation "conversations" does not exist');
        const { principal } = requireCredential(ctx);
        return { conversationId: req.conversationId, reply: `ok ${principal.tenantId}/${principal.userId}` };
      },
    }),
    // Answer with the verified caller, so a test sees whom the gateway forwarded.
    serviceRegistration(AssistantService, {
      listAssistants(_req, ctx) {
        const { principal } = requireCredential(ctx);
        return { defaultAssistant: `${principal.tenantId}/${principal.userId}` };
      },
    }),
    serviceRegistration(UsageService, {
      getUsage(req, ctx) {
        const { principal } = requireCredential(ctx);
        if (!principal.permissions.includes('usage:read')) throw publicError(Code.PermissionDenied, 'no');
        return { rows: [{ tenantId: principal.tenantId, assistant: req.assistant, turns: 1n }] };
      },
    }),
    // Answers with the deadline it was given, as the task's tool name.
    serviceRegistration(TaskService, {
      async getTask(req) {
        return { task: { taskId: req.taskId } };
      },
      async *watchTask(req, ctx) {
        yield { task: { taskId: req.taskId, toolName: String(ctx.timeoutMs() ?? 'none') } };
      },
    }),
  ],
});

const gateways: Server[] = [];
async function startGateway(orchestratorAddress: string) {
  const gateway = createGatewayServer({
    orchestrator: orchestratorClientsAt(orchestratorAddress),
    forwardAsCaller: createForwardAsCaller(meshKeys.gateway),
    authenticate: createApiKeyAuthenticator(devApiKeys),
    defaultDeadlineMs: 10_000,
    rateLimiter: createRateLimiter(),
    chatRate: { ratePerSec: 0.5, burst: 4 },
    logger,
  });
  gateways.push(gateway);
  const port = await gateway.listen(0);
  const client = createGrpcClient(ChatService, {
    address: `127.0.0.1:${port}`,
    interceptors: [
      (next) => (req) => {
        req.header.set('authorization', 'Bearer dev-key-u1001');
        return next(req);
      },
    ],
  });
  // A plain client with no default deadline, as the CLI's watch is.
  const tasks = createClient(
    TaskService,
    createGrpcTransport({
      baseUrl: `http://127.0.0.1:${port}`,
      interceptors: [
        (next) => (req) => {
          req.header.set('authorization', 'Bearer dev-key-u1001');
          return next(req);
        },
      ],
    }),
  );
  const as = (key: string) => [
    (next: Parameters<import('@connectrpc/connect').Interceptor>[0]) =>
      (req: Parameters<ReturnType<import('@connectrpc/connect').Interceptor>>[0]) => {
        req.header.set('authorization', `Bearer ${key}`);
        return next(req);
      },
  ];
  const address = `127.0.0.1:${port}`;
  const assistants = createGrpcClient(AssistantService, { address, interceptors: as('dev-key-u1001') });
  const usageAs = (key: string) => createGrpcClient(UsageService, { address, interceptors: as(key) });
  return Object.assign(
    (message: string) =>
      client.chat({ message }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      ),
    { client, tasks, assistants, usageAs },
  );
}

let chat: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  const port = await orchestrator.listen(0);
  orchestrator.health.setAll(true);
  chat = await startGateway(`127.0.0.1:${port}`);
});

afterAll(async () => {
  await Promise.all([...gateways.map((g) => g.shutdown(100)), orchestrator.shutdown(100)]);
});

test('the orchestrator hears the verified caller through the credential the gateway signed', async () => {
  expect((await chat.client.chat({ message: 'hello' })).reply).toBe('ok t_demo/u_1001');
});

test('AssistantService and UsageService reach the orchestrator as the verified caller', async () => {
  expect((await chat.assistants.listAssistants({})).defaultAssistant).toBe('t_demo/u_1001');
  // The demo operator key reads usage; a user key is refused by the orchestrator, and the code passes.
  const rows = (await chat.usageAs('dev-key-operator').getUsage({ assistant: 'shop-support' })).rows;
  expect(rows).toMatchObject([{ tenantId: 't_demo', assistant: 'shop-support', turns: 1n }]);
  expect(
    await chat
      .usageAs('dev-key-u1001')
      .getUsage({})
      .catch((e: unknown) => ConnectError.from(e).code),
  ).toBe(Code.PermissionDenied);
});

test('a WatchTask without a deadline is not cut by a client default: it gets the server-side maximum', async () => {
  const deadlineOf = async (timeoutMs?: number) => {
    // Read to the end: a connect client leaves a stream it stopped reading (and its deadline
    // timer) open until the server ends it.
    let deadline: number | undefined;
    for await (const res of chat.tasks.watchTask({ taskId: `task_${'a'.repeat(32)}` }, { timeoutMs })) {
      deadline ??= Number(res.task?.toolName);
    }
    return deadline;
  };
  // The caller's own deadline wins when shorter; none means the hour-long maximum, not 10 s or 30 s.
  expect(await deadlineOf(undefined)).toBeGreaterThan(30 * 60_000);
  expect(await deadlineOf(90_000)).toBeLessThanOrEqual(90_000);
});

test("the orchestrator's answers pass with their code, message, reason and retry hint", async () => {
  const down = await chat('model down');
  expect(down).toMatchObject({
    code: Code.Unavailable,
    rawMessage: 'the model is unavailable, retry after 7 s',
  });
  expect(readErrorInfo(down)).toEqual({
    reason: 'MODEL_UNAVAILABLE',
    domain: 'toolmesh',
    metadata: {},
    retryAfterMs: 7_000,
  });
  const busy = await chat('busy');
  expect(busy).toMatchObject({
    code: Code.Aborted,
    rawMessage: 'another request is running on this conversation; retry when it is done',
  });
  expect(readErrorInfo(busy)?.reason).toBe('ABORTED');
  // An internal failure stays internal: the orchestrator's boundary already hid it.
  const bug = await chat('bug');
  expect(bug).toMatchObject({ code: Code.Internal, rawMessage: 'internal error' });
  expect(readErrorInfo(bug)?.reason).toBe('INTERNAL');
});

test('an orchestrator that does not answer is DEPENDENCY_UNAVAILABLE', async () => {
  const chatToNowhere = await startGateway(`127.0.0.1:${await freePort()}`);
  const error = await chatToNowhere('hello');
  expect(error).toMatchObject({
    code: Code.Unavailable,
    rawMessage: 'the orchestrator is unavailable, retry later',
  });
  expect(readErrorInfo(error)).toMatchObject({
    reason: 'DEPENDENCY_UNAVAILABLE',
    domain: 'toolmesh',
    metadata: { dependency: 'orchestrator' },
  });
});

test('a spent rate limit says when to retry, in the message and in RetryInfo', async () => {
  // The burst of 4 is shared with the other tests' calls by this user; keep asking until refused.
  let refused: ConnectError | undefined;
  for (let i = 0; i < 10 && !refused; i++) {
    const error = await chat('hello');
    if (error?.code === Code.ResourceExhausted) refused = error;
  }
  const info = readErrorInfo(refused);
  expect(info).toMatchObject({ reason: 'RATE_LIMITED', metadata: { scope: 'user' } });
  expect(info?.retryAfterMs).toBeGreaterThan(0);
  expect(refused?.rawMessage).toBe(
    `rate limit reached for this user; retry in ${retrySeconds(info?.retryAfterMs)} s`,
  );
});
