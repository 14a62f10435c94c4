// Overload against real processes: the gateway and the orchestrator each admit a bounded number
// of chat turns (Chat, ChatStream until it ends, Confirm) and refuse the next at once with
// RESOURCE_EXHAUSTED, reason OVERLOADED and a retry hint, instead of queueing it. The model
// (the only fake) holds its answers until the test lets them go, so "in flight" is a fact the
// test sets, not a race. A gateway's refusal costs the orchestrator nothing; an orchestrator's
// refusal does not count against its breaker at the gateway.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { ChatService, Health, HealthCheckResponse_ServingStatus } from '@toolmesh/proto';
import { readErrorInfo } from '@toolmesh/rpc';
import {
  type CannedAnswer,
  type CannedModel,
  createTestDatabase,
  startCannedModel,
  type TestDatabase,
  waitFor,
} from '@toolmesh/testkit';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

let db: TestDatabase;
let model: CannedModel;
let mesh: Mesh;
// While true, every model request waits in `held` until the test answers it.
let holding = false;
const held: (() => void)[] = [];
const releaseHeld = () => {
  holding = false;
  for (const answer of held.splice(0)) answer();
};

beforeAll(async () => {
  db = await createTestDatabase();
  model = await startCannedModel(() => {
    const answer: CannedAnswer = { content: 'all done' };
    if (!holding) return answer;
    return new Promise<CannedAnswer>((resolve) => held.push(() => resolve(answer)));
  });
  mesh = await startMesh({
    ports: await freeMeshPorts(),
    databaseUrl: db.url,
    model: { baseUrl: model.baseUrl },
    gateways: 2,
    env: { LOG_LEVEL: 'warn' },
    serviceEnv: {
      orchestrator: { MAX_TURNS_IN_FLIGHT: '3' },
      // The first gateway admits 2 turns (it sheds before the orchestrator is full) …
      gateway: { MAX_TURNS_IN_FLIGHT: '2', CHAT_RATE_PER_SEC: '1000', CHAT_RATE_BURST: '1000' },
      // … the second admits more than the orchestrator, and one transport failure would eject
      // the orchestrator for a minute: a refusal counted as one would fail the next chat.
      'gateway#2': {
        MAX_TURNS_IN_FLIGHT: '10',
        BREAKER_FAILURE_THRESHOLD: '1',
        BREAKER_HALF_OPEN_MS: '60000',
      },
    },
  });
}, 120_000);

afterAll(async () => {
  releaseHeld();
  await mesh?.stop();
  await model?.close();
  await db?.drop();
}, 60_000);

const chatVia = (gateway: number, key?: string) =>
  createClient(ChatService, gatewayTransport(mesh.gatewayAddresses[gateway] ?? '', key));

// One series of a process's /metrics (summed over its label sets).
async function metric(process: string, name: string): Promise<number> {
  const text = await (await fetch(mesh.metricsUrls[process] ?? '')).text();
  return text
    .split('\n')
    .filter((l) => l === name || l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

const failureOf = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error('expected the call to be refused');
    },
    (e: unknown) => ConnectError.from(e),
  );

function expectOverloaded(error: ConnectError, service: string) {
  expect(error.code).toBe(Code.ResourceExhausted);
  const info = readErrorInfo(error);
  expect(info?.reason).toBe('OVERLOADED');
  expect(info?.retryAfterMs).toBeGreaterThan(0);
  // Nothing about who else is in flight: the tier's name and when to retry, no more.
  expect(info?.metadata).toEqual({ service });
  expect(error.rawMessage).toMatch(new RegExp(`^the ${service} is at capacity, retry after \\d+ s$`));
}

// Starts a turn that holds at the model, and waits until it got there (its end is `done`:
// wrapped, as an async function would await a promise it returns).
async function startHeld<T>(start: () => Promise<T>): Promise<{ done: Promise<T> }> {
  const before = model.requests.length;
  const done = start();
  // Observed now, so a failure is reported by the assertion that awaits it, not as unhandled.
  done.catch(() => {});
  await waitFor(() => model.requests.length > before, { what: 'a turn waiting on the model' });
  return { done };
}

async function drain(stream: AsyncIterable<{ event: { case: string | undefined } }>): Promise<string[]> {
  const events: string[] = [];
  for await (const res of stream) events.push(res.event.case ?? 'none');
  return events;
}

test("every gateway is started with a small young generation, the orchestrator with V8's default", async () => {
  for (const name of ['gateway', 'gateway#2']) {
    const args = mesh.processes.get(name)?.child.spawnargs ?? [];
    expect([name, args.slice(1, -1)]).toEqual([name, ['--max-semi-space-size=8']]);
  }
  expect(mesh.processes.get('orchestrator')?.child.spawnargs.slice(1, -1)).toEqual([]);
});

test('a gateway full of turns refuses the next at once, before forwarding it; admits again once they end', async () => {
  holding = true;
  const { done: chat } = await startHeld(() => chatVia(0, 'dev-key-u1001').chat({ message: 'first' }));
  // A stream counts as in flight until it ends.
  const { done: stream } = await startHeld(() =>
    drain(chatVia(0, 'dev-key-u1001').chatStream({ message: 'second' })),
  );
  expect(await metric('gateway', 'toolmesh_turns_in_flight')).toBe(2);
  const modelRequests = model.requests.length;

  // Another user's chat and Confirm are refused with the gateway's answer, and nothing of them is forwarded.
  expectOverloaded(await failureOf(chatVia(0, 'dev-key-u2002').chat({ message: 'third' })), 'gateway');
  expectOverloaded(
    await failureOf(
      chatVia(0, 'dev-key-u2002').confirm({ conversationId: 'c', actionId: 'a', approve: true }),
    ),
    'gateway',
  );
  expectOverloaded(
    await failureOf(drain(chatVia(0, 'dev-key-u2002').chatStream({ message: 'x' }))),
    'gateway',
  );
  expect(model.requests.length).toBe(modelRequests);
  expect(await metric('gateway', 'toolmesh_turns_shed_total')).toBe(3);
  expect(await metric('orchestrator', 'toolmesh_turns_shed_total')).toBe(0);
  expect(await metric('orchestrator', 'toolmesh_turns_in_flight')).toBe(2);

  // Authentication comes first: a caller without a credential learns nothing about load.
  expect((await failureOf(chatVia(0).chat({ message: 'anonymous' }))).code).toBe(Code.Unauthenticated);
  // Health checks and metrics are never shed.
  const health = createClient(Health, gatewayTransport(mesh.gatewayAddresses[0] ?? ''));
  expect((await health.check({ service: '' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);

  // The admitted turns complete normally.
  releaseHeld();
  expect((await chat).reply).toBe('all done');
  expect((await stream).at(-1)).toBe('final');
  await waitFor(async () => (await metric('gateway', 'toolmesh_turns_in_flight')) === 0, {
    what: 'the gateway to have no turn in flight',
  });
  // And new turns are admitted again.
  expect((await chatVia(0, 'dev-key-u2002').chat({ message: 'fourth' })).reply).toBe('all done');
});

test('an orchestrator full of turns refuses the next at once; the refusal is not a breaker failure at the gateway', async () => {
  holding = true;
  const turns: Promise<unknown>[] = [];
  for (const message of ['one', 'two', 'three']) {
    turns.push((await startHeld(() => chatVia(1, 'dev-key-u1001').chat({ message }))).done);
  }
  expect(await metric('orchestrator', 'toolmesh_turns_in_flight')).toBe(3);
  const shedBefore = await metric('orchestrator', 'toolmesh_turns_shed_total');
  const modelRequests = model.requests.length;

  // The one orchestrator sheds (no other replica to try): its answer reaches the caller as it is.
  expectOverloaded(await failureOf(chatVia(1, 'dev-key-u2002').chat({ message: 'four' })), 'orchestrator');
  expectOverloaded(
    await failureOf(
      chatVia(1, 'dev-key-u2002').confirm({ conversationId: 'c', actionId: 'a', approve: true }),
    ),
    'orchestrator',
  );
  expect(model.requests.length).toBe(modelRequests);
  expect(await metric('orchestrator', 'toolmesh_turns_shed_total')).toBe(shedBefore + 2);
  expect(await metric('gateway#2', 'toolmesh_turns_shed_total')).toBe(0);

  releaseHeld();
  for (const turn of turns) await expect(turn).resolves.toMatchObject({ reply: 'all done' });
  // Had the refusals counted as transport failures, the orchestrator would be ejected for a
  // minute and this chat refused as CIRCUIT_OPEN.
  expect((await chatVia(1, 'dev-key-u2002').chat({ message: 'five' })).reply).toBe('all done');
});
