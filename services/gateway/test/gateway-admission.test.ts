// The gateway's own turn bound, through its whole interceptor chain against a real orchestrator
// stand-in over 127.0.0.1: a turn beyond the bound is refused after authentication (an unknown
// caller hears UNAUTHENTICATED whatever the load) and before the caller's rate limit (a refused
// turn spends none of the caller's budget), with nothing in the refusal but the tier and a hint.
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { createAdmissionLimiter, createRateLimiter } from '@toolmesh/limits';
import { ChatService } from '@toolmesh/proto';
import {
  createGrpcClient,
  createServer,
  readErrorInfo,
  type Server,
  serviceRegistration,
} from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createTestMeshKeys } from '@toolmesh/testkit';
import {
  createApiKeyAuthenticator,
  createForwardAsCaller,
  createGatewayServer,
  devApiKeys,
} from '../src/index.ts';
import { acceptGatewayCredentials } from './support/accept-gateway-credentials.ts';
import { orchestratorClientsAt } from './support/orchestrator-clients-at.ts';

const logger = createLogger({ service: 'gateway-admission-test', level: 'silent' });
const meshKeys = await createTestMeshKeys();

// A turn whose message is "hold" waits until the test lets it go; every turn is counted.
const held: (() => void)[] = [];
let reached = 0;
const orchestrator: Server = createServer({
  logger,
  interceptors: [acceptGatewayCredentials(meshKeys.keys)],
  services: [
    serviceRegistration(ChatService, {
      async chat(req) {
        reached++;
        if (req.message === 'hold') await new Promise<void>((resolve) => held.push(resolve));
        return { conversationId: req.conversationId, reply: 'ok' };
      },
    }),
  ],
});

// One turn at a time; a chat budget of 3 turns (burst) that refills once a minute.
const admission = createAdmissionLimiter({ limit: 1, clock: createManualClock() });
let gateway: Server;
let address: string;

const chatAs = (key: string | undefined, message: string) =>
  createGrpcClient(ChatService, {
    address,
    interceptors: [
      (next) => (req) => {
        if (key) req.header.set('authorization', `Bearer ${key}`);
        return next(req);
      },
    ],
  })
    .chat({ message })
    .then(
      (res) => res.reply,
      (e: unknown) => ConnectError.from(e),
    );

beforeAll(async () => {
  const orchestratorAddress = `127.0.0.1:${await orchestrator.listen(0)}`;
  orchestrator.health.setAll(true);
  gateway = createGatewayServer({
    orchestrator: orchestratorClientsAt(orchestratorAddress),
    forwardAsCaller: createForwardAsCaller(meshKeys.gateway),
    authenticate: createApiKeyAuthenticator(devApiKeys),
    defaultDeadlineMs: 10_000,
    rateLimiter: createRateLimiter({ clock: createManualClock() }),
    chatRate: { ratePerSec: 1 / 60, burst: 3 },
    turnAdmission: admission,
    logger,
  });
  address = `127.0.0.1:${await gateway.listen(0)}`;
});

afterAll(async () => {
  for (const release of held) release();
  await Promise.all([gateway.shutdown(100), orchestrator.shutdown(100)]);
});

test('beyond the bound: an unknown caller hears UNAUTHENTICATED, a known one OVERLOADED that spends no rate budget', async () => {
  // The one slot is taken (first token of the budget).
  const first = chatAs('dev-key-u1001', 'hold');
  while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));

  // Authentication runs before the bound: no credential and a wrong one learn nothing of load.
  for (const key of [undefined, 'not-a-key']) {
    const refused = await chatAs(key, 'hello');
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe(Code.Unauthenticated);
  }

  // Five refusals for load: each says only which tier refused and when to retry.
  for (let i = 0; i < 5; i++) {
    const refused = (await chatAs('dev-key-u1001', 'hello')) as ConnectError;
    expect(refused.code).toBe(Code.ResourceExhausted);
    const info = readErrorInfo(refused);
    expect(info?.reason).toBe('OVERLOADED');
    expect(info?.metadata).toEqual({ service: 'gateway' });
    expect(info?.retryAfterMs).toBeGreaterThan(0);
  }
  expect(reached).toBe(1);
  expect(admission.shed()).toBe(5);

  held.shift()?.();
  expect(await first).toBe('ok');
  // The budget is where the one admitted turn left it: two more turns pass, the third is rate limited.
  expect(await chatAs('dev-key-u1001', 'hello')).toBe('ok');
  expect(await chatAs('dev-key-u1001', 'hello')).toBe('ok');
  const limited = (await chatAs('dev-key-u1001', 'hello')) as ConnectError;
  expect(limited.code).toBe(Code.ResourceExhausted);
  expect(readErrorInfo(limited)?.reason).toBe('RATE_LIMITED');
  expect(reached).toBe(3);
});
