// Overload between the gateway and the orchestrator replicas, against real gRPC servers on
// 127.0.0.1: a replica that sheds a turn (RESOURCE_EXHAUSTED, OVERLOADED) ran nothing of it,
// so the gateway moves the call to a replica not tried yet; sheds never eject a replica;
// when every replica sheds, the caller hears OVERLOADED with a retry hint at once.
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { type AdmissionLimiter, createAdmissionLimiter } from '@toolmesh/limits';
import { ChatService } from '@toolmesh/proto';
import {
  createAdmissionInterceptor,
  createServer,
  readErrorInfo,
  rendezvousRank,
  type Server,
  serviceRegistration,
} from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { freePort, waitFor } from '@toolmesh/testkit';
import { loadConfig } from '../src/config.ts';
import { connectOrchestrators, type Orchestrators } from '../src/connect-orchestrators.ts';

const logger = createLogger({ service: 'turn-admission-test', level: 'silent' });

// A stand-in orchestrator with the orchestrator's admission bound (1 turn): a turn whose
// message is "hold" waits until the test lets it go.
interface Replica {
  address: string;
  server: Server;
  admission: AdmissionLimiter;
  reached: number;
  held: (() => void)[];
}
async function startReplica(): Promise<Replica> {
  const replica = { reached: 0, held: [] } as unknown as Replica;
  replica.admission = createAdmissionLimiter({ limit: 1, clock: createManualClock() });
  replica.server = createServer({
    logger,
    interceptors: [
      createAdmissionInterceptor({
        admission: replica.admission,
        admits: (service) => service === ChatService.typeName,
        service: 'orchestrator',
      }),
    ],
    services: [
      serviceRegistration(ChatService, {
        async chat(req) {
          replica.reached++;
          if (req.message === 'hold') await new Promise<void>((resolve) => replica.held.push(resolve));
          return { conversationId: req.conversationId, reply: replica.address };
        },
        async *chatStream() {
          replica.reached++;
          yield {};
        },
      }),
    ],
  });
  const port = await replica.server.listen(await freePort(), '127.0.0.1');
  replica.address = `127.0.0.1:${port}`;
  replica.server.health.setAll(true);
  return replica;
}

let replicas: Replica[];
let orchestrators: Orchestrators;
const clock = createManualClock();

beforeAll(async () => {
  replicas = [await startReplica(), await startReplica(), await startReplica()];
  const config = loadConfig({
    ORCHESTRATOR_ADDR: replicas.map((r) => r.address).join(','),
    // One transport failure would eject a replica: a shed counted as one would show at once.
    BREAKER_FAILURE_THRESHOLD: '1',
    BREAKER_HALF_OPEN_MS: '60000',
    TOOLMESH_MESH_KEY_FILE: '/unused',
  });
  orchestrators = await connectOrchestrators({ settings: config.orchestrators, logger, clock });
});

afterAll(async () => {
  for (const r of replicas ?? []) for (const release of r.held.splice(0)) release();
  await orchestrators?.stop();
  for (const r of replicas ?? []) await r.server.shutdown(1_000);
});

const chat = () => orchestrators.client(ChatService, 10_000);
const breakerStates = () => orchestrators.balancer.endpoints().map((e) => e.breaker.state());

// Starts a held turn on the replica a conversation prefers and waits until it runs there.
async function holdOn(conversationId: string): Promise<{ replica: Replica; done: Promise<unknown> }> {
  const replica = rendezvousRank(conversationId, replicas, (r) => r.address)[0] as Replica;
  const before = replica.held.length;
  const done = chat().chat({ conversationId, message: 'hold' });
  await waitFor(() => replica.held.length > before, { what: `a held turn on ${replica.address}` });
  return { replica, done };
}

test('a turn a replica shed moves to another replica; the shedding replica is not ejected', async () => {
  const { replica: busy, done } = await holdOn('conv-a');
  const reachedBefore = busy.reached;
  // Turns of conv-a prefer the busy replica: it sheds them before any work, others answer.
  for (let i = 0; i < 5; i++) {
    const res = await chat().chat({ conversationId: 'conv-a', message: 'hello' });
    expect(res.reply).not.toBe(busy.address);
  }
  expect(busy.admission.shed()).toBe(5);
  expect(busy.reached).toBe(reachedBefore);
  // Five refusals against a breaker that opens on one failure: every replica still closed.
  expect(breakerStates()).toEqual(['closed', 'closed', 'closed']);
  busy.held.shift()?.();
  await done;
  // Free again, the replica takes its conversation's turns again.
  const res = await chat().chat({ conversationId: 'conv-a', message: 'hello' });
  expect(res.reply).toBe(busy.address);
});

test('a stream a replica shed when it was opened moves to another replica too', async () => {
  const { replica: busy, done } = await holdOn('conv-b');
  const others = replicas.filter((r) => r !== busy);
  const before = others.map((r) => r.reached).reduce((a, b) => a + b, 0);
  for await (const _ of chat().chatStream({ conversationId: 'conv-b', message: 'stream' })) {
    // drained
  }
  expect(others.map((r) => r.reached).reduce((a, b) => a + b, 0)).toBe(before + 1);
  expect(breakerStates()).toEqual(['closed', 'closed', 'closed']);
  busy.held.shift()?.();
  await done;
});

test('when every replica sheds, the caller hears OVERLOADED with a retry hint, and nothing ran', async () => {
  // One held turn per replica: new conversations go to the least loaded, so three fill all three.
  const done: Promise<unknown>[] = [];
  for (let i = 0; i < replicas.length; i++) {
    const before = replicas.map((r) => r.held.length).reduce((a, b) => a + b, 0);
    done.push(chat().chat({ message: 'hold' }));
    await waitFor(() => replicas.map((r) => r.held.length).reduce((a, b) => a + b, 0) > before, {
      what: 'a held turn',
    });
  }
  expect(replicas.map((r) => r.admission.inFlight())).toEqual([1, 1, 1]);
  const reached = replicas.map((r) => r.reached);
  const error = await chat()
    .chat({ message: 'one more' })
    .then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
  expect(error?.code).toBe(Code.ResourceExhausted);
  const info = readErrorInfo(error);
  expect(info?.reason).toBe('OVERLOADED');
  expect(info?.metadata).toEqual({ service: 'orchestrator' });
  expect(info?.retryAfterMs).toBeGreaterThan(0);
  expect(replicas.map((r) => r.reached)).toEqual(reached);
  expect(breakerStates()).toEqual(['closed', 'closed', 'closed']);
  for (const r of replicas) for (const release of r.held.splice(0)) release();
  await Promise.all(done);
  // Slots given back: a turn is admitted again.
  await expect(chat().chat({ message: 'after' })).resolves.toBeDefined();
});
