// The gateway's early refusal, against real servers on 127.0.0.1: while the turn bound is reached,
// a plain gRPC chat with a valid credential is answered before any interceptor or handler with the
// very status the admission interceptor gives (checked on the wire against a server that refuses
// through the interceptor), counted where operators look; a missing or wrong credential still
// hears UNAUTHENTICATED; Connect/JSON takes the interceptor's path; a free slot serves as before.
import http2 from 'node:http2';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { type AdmissionLimiter, createAdmissionLimiter, createRateLimiter } from '@toolmesh/limits';
import { ChatRequestSchema, ChatService } from '@toolmesh/proto';
import {
  createAdmissionInterceptor,
  createGrpcClient,
  createServer,
  readErrorInfo,
  type Server,
  serviceRegistration,
} from '@toolmesh/rpc';
import { createLogger, createMetricsRegistry, type Registry } from '@toolmesh/telemetry';
import { createTestMeshKeys } from '@toolmesh/testkit';
import {
  createApiKeyAuthenticator,
  createForwardAsCaller,
  createGatewayServer,
  devApiKeys,
} from '../src/index.ts';
import { acceptGatewayCredentials } from './support/accept-gateway-credentials.ts';
import { orchestratorClientsAt } from './support/orchestrator-clients-at.ts';

const logger = createLogger({ service: 'refuse-when-full-test', level: 'silent' });
const meshKeys = await createTestMeshKeys();

let reached = 0;
const chatService = serviceRegistration(ChatService, {
  async chat(req) {
    reached++;
    return { conversationId: req.conversationId, reply: 'ok' };
  },
  async *chatStream() {
    reached++;
    yield {};
  },
});
const orchestrator: Server = createServer({
  logger,
  interceptors: [acceptGatewayCredentials(meshKeys.keys)],
  services: [chatService],
});

// One turn at a time; a hint pinned to 1.5 s (floor = ceiling), so two bounds give the same one.
const bound = () =>
  createAdmissionLimiter({
    limit: 1,
    clock: createManualClock(),
    minRetryAfterMs: 1_500,
    maxRetryAfterMs: 1_500,
  });

// The gateway under test, with its registry.
const metrics: Registry = createMetricsRegistry();
const admission: AdmissionLimiter = createAdmissionLimiter({
  limit: 1,
  clock: createManualClock(),
  minRetryAfterMs: 1_500,
  maxRetryAfterMs: 1_500,
  metrics: { registry: metrics, prefix: 'toolmesh_turns', help: 'Chat turns' },
});
let gateway: Server;
let gatewayPort: number;

// The interceptor's refusal: the same kind of server (every protocol), refusing through the admission
// interceptor only.
const referenceAdmission = bound();
const reference: Server = createServer({
  logger,
  protocols: 'all',
  interceptors: [
    createAdmissionInterceptor({
      admission: referenceAdmission,
      admits: (service) => service === ChatService.typeName,
      service: 'gateway',
    }),
  ],
  services: [chatService],
});
let referencePort: number;

beforeAll(async () => {
  const orchestratorAddress = `127.0.0.1:${await orchestrator.listen(0)}`;
  orchestrator.health.setAll(true);
  gateway = createGatewayServer({
    orchestrator: orchestratorClientsAt(orchestratorAddress),
    forwardAsCaller: createForwardAsCaller(meshKeys.gateway),
    authenticate: createApiKeyAuthenticator(devApiKeys),
    defaultDeadlineMs: 10_000,
    rateLimiter: createRateLimiter({ clock: createManualClock() }),
    chatRate: { ratePerSec: 1_000, burst: 1_000 },
    turnAdmission: admission,
    logger,
    metrics,
  });
  gatewayPort = await gateway.listen(0);
  referencePort = await reference.listen(0);
});

afterAll(async () => {
  await Promise.all([gateway.shutdown(100), reference.shutdown(100), orchestrator.shutdown(100)]);
});

// Takes the one slot of a bound for the test's duration, as a turn in flight would.
function fill(limiter: AdmissionLimiter): () => void {
  const release = limiter.tryAdmit();
  if (!release) throw new Error('the bound was already full');
  return () => release();
}

interface WireAnswer {
  /** The response HEADERS frame carried END_STREAM: a trailers-only answer. */
  trailersOnly: boolean;
  /** Headers and trailers together, pseudo-headers and date left out. */
  fields: Record<string, string>;
}

// A gRPC Chat as a plain HTTP/2 client sends it, and everything the server answers.
function rawChat(port: number, authorization?: string): Promise<WireAnswer> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const message = toBinary(ChatRequestSchema, create(ChatRequestSchema, { message: 'hello' }));
  const body = Buffer.alloc(5 + message.length);
  body.writeUInt32BE(message.length, 1);
  body.set(message, 5);
  return new Promise<WireAnswer>((resolve, reject) => {
    const fields: Record<string, string> = {};
    let trailersOnly = false;
    const keep = (headers: http2.IncomingHttpHeaders) => {
      for (const [name, value] of Object.entries(headers)) {
        if (!name.startsWith(':') && name !== 'date') fields[name] = String(value);
      }
    };
    const stream = session.request({
      ':method': 'POST',
      ':path': '/toolmesh.v1.ChatService/Chat',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...(authorization ? { authorization } : {}),
    });
    stream.on('response', (headers, flags) => {
      trailersOnly = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      keep(headers);
    });
    stream.on('trailers', keep);
    stream.on('error', reject);
    stream.resume();
    stream.on('close', () => {
      session.close();
      resolve({ trailersOnly, fields });
    });
    stream.end(body);
  });
}

const bearer = (key: string | undefined) => (key ? { authorization: `Bearer ${key}` } : undefined);
const grpcClient = () => createGrpcClient(ChatService, { address: `127.0.0.1:${gatewayPort}` });
const settle = <T>(call: Promise<T>) =>
  call.then(
    (value) => value,
    (e: unknown) => ConnectError.from(e),
  );

// One series' value; a histogram's `_count` is found under its family's name.
async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const family = name.replace(/_count$/, '');
  const metric = (await metrics.getMetricsAsJSON()).find((m) => m.name === family);
  const values = (metric?.values ?? []) as {
    metricName?: string;
    labels: Record<string, string | number>;
    value: number;
  }[];
  const found = values.find(
    (v) =>
      (v.metricName ?? name) === name &&
      Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return found?.value ?? 0;
}

test('while full, a gRPC chat gets on the wire exactly the status the admission interceptor gives, at once', async () => {
  const releaseGateway = fill(admission);
  const releaseReference = fill(referenceAdmission);
  try {
    const shedBefore = admission.shed();
    const early = await rawChat(gatewayPort, 'Bearer dev-key-u1001');
    const today = await rawChat(referencePort, 'Bearer dev-key-u1001');
    // The same status fields, byte for byte: code, message, the details (ErrorInfo, RetryInfo)
    // and the boundary's sanitized mark.
    const statusFields = [
      'grpc-status',
      'grpc-message',
      'grpc-status-details-bin',
      'toolmesh-error-sanitized',
    ];
    const pick = (answer: WireAnswer) => Object.fromEntries(statusFields.map((f) => [f, answer.fields[f]]));
    expect(pick(early)).toEqual(pick(today));
    expect(early.fields['grpc-status']).toBe('8');
    expect(early.fields['content-type']).toBe(today.fields['content-type']);
    // Answered before the pipeline: one HEADERS frame that ends the stream.
    expect(early.trailersOnly).toBe(true);
    expect(admission.shed()).toBe(shedBefore + 1);
    expect(admission.inFlight()).toBe(1);

    // Read back by a gRPC client, unary and stream alike: the reason, the tier, the hint.
    const unary = (await settle(
      grpcClient().chat({ message: 'hello' }, { headers: bearer('dev-key-u1001') }),
    )) as ConnectError;
    const stream = await settle(
      (async () => {
        for await (const _ of grpcClient().chatStream(
          { message: 'hello' },
          { headers: bearer('dev-key-u2002') },
        )) {
          // drained
        }
      })(),
    );
    for (const refused of [unary, stream]) {
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
      expect(readErrorInfo(refused)).toEqual({
        reason: 'OVERLOADED',
        domain: 'toolmesh',
        metadata: { service: 'gateway' },
        retryAfterMs: 1_500,
      });
    }
    expect(admission.shed()).toBe(shedBefore + 3);
  } finally {
    releaseGateway();
    releaseReference();
  }
});

test('while full, no credential or a wrong one hears UNAUTHENTICATED, never of load', async () => {
  const release = fill(admission);
  try {
    const shedBefore = admission.shed();
    for (const key of [undefined, 'not-a-key']) {
      const refused = await settle(grpcClient().chat({ message: 'hello' }, { headers: bearer(key) }));
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe(Code.Unauthenticated);
      expect(readErrorInfo(refused)?.reason).toBe('UNAUTHENTICATED');
      const raw = await rawChat(gatewayPort, key && `Bearer ${key}`);
      expect(raw.fields['grpc-status']).toBe(String(Code.Unauthenticated));
    }
    expect(admission.shed()).toBe(shedBefore);
  } finally {
    release();
  }
});

test('while full, a Connect/JSON chat is refused by the interceptor, as before', async () => {
  const release = fill(admission);
  try {
    const shedBefore = admission.shed();
    const res = await fetch(`http://127.0.0.1:${gatewayPort}/toolmesh.v1.ChatService/Chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer dev-key-u1001' },
      body: JSON.stringify({ message: 'hello' }),
    });
    expect(res.status).toBe(429);
    const error = (await res.json()) as { code: string; details?: { type: string }[] };
    expect(error.code).toBe('resource_exhausted');
    expect(error.details?.map((d) => d.type)).toEqual(['google.rpc.ErrorInfo', 'google.rpc.RetryInfo']);
    // Counted by the limiter's tryAdmit in the interceptor, the one refusal.
    expect(admission.shed()).toBe(shedBefore + 1);
    // Without a credential, UNAUTHENTICATED there too.
    const anonymous = await fetch(`http://127.0.0.1:${gatewayPort}/toolmesh.v1.ChatService/Chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'hello' }),
    });
    expect(((await anonymous.json()) as { code: string }).code).toBe('unauthenticated');
  } finally {
    release();
  }
});

test('an early refusal is counted in the grpc_server_* series under the labels of the normal path', async () => {
  const labels = { grpc_type: 'unary', grpc_service: ChatService.typeName, grpc_method: 'Chat' };
  const exhausted = { ...labels, grpc_code: 'ResourceExhausted' };
  const before = {
    started: await metricValue('grpc_server_started_total', labels),
    received: await metricValue('grpc_server_msg_received_total', labels),
    handled: await metricValue('grpc_server_handled_total', exhausted),
    observed: await metricValue('grpc_server_handling_seconds_count', labels),
  };
  const release = fill(admission);
  try {
    const refused = await rawChat(gatewayPort, 'Bearer dev-key-u1001');
    expect(refused.trailersOnly).toBe(true);
  } finally {
    release();
  }
  expect(await metricValue('grpc_server_started_total', labels)).toBe(before.started + 1);
  expect(await metricValue('grpc_server_msg_received_total', labels)).toBe(before.received + 1);
  expect(await metricValue('grpc_server_handled_total', exhausted)).toBe(before.handled + 1);
  expect(await metricValue('grpc_server_handling_seconds_count', labels)).toBe(before.observed + 1);
  // The limiter's own series counts it as shed.
  expect(await metricValue('toolmesh_turns_shed_total', {})).toBe(admission.shed());
});

test('with a free slot, gRPC chats pass as before and give their slot back', async () => {
  const reachedBefore = reached;
  expect(await grpcClient().chat({ message: 'hello' }, { headers: bearer('dev-key-u1001') })).toMatchObject({
    reply: 'ok',
  });
  for await (const _ of grpcClient().chatStream({ message: 'hello' }, { headers: bearer('dev-key-u1001') })) {
    // drained
  }
  const raw = await rawChat(gatewayPort, 'Bearer dev-key-u1001');
  expect(raw.fields['grpc-status']).toBe('0');
  expect(raw.trailersOnly).toBe(false);
  expect(reached).toBe(reachedBefore + 3);
  expect(admission.inFlight()).toBe(0);
});
