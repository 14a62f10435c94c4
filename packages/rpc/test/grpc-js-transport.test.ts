// The mesh's client transport (connect's Transport on @grpc/grpc-js) against real servers on
// 127.0.0.1: a bare grpc-js server whose answers each test sets, a bare HTTP/2 server where
// the connection itself is under test, and the mesh's own server for error details.
import fs from 'node:fs';
import http2 from 'node:http2';
import { create, type DescMessage, type DescMethod, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createClient, decodeBinaryHeader, encodeBinaryHeader } from '@connectrpc/connect';
import { setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import {
  credentials as channelCredentials,
  status as grpcStatus,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
} from '@grpc/grpc-js';
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  ToolService,
} from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { createTestPki, freePort } from '@toolmesh/testkit';
import { createGrpcJsTransport, type GrpcJsTransport } from '../src/grpc-js/create-grpc-js-transport.ts';
import { grpcJsChannelOptions } from '../src/grpc-js/grpc-js-channel-options.ts';
import {
  Code,
  ConnectError,
  createError,
  createGrpcChannel,
  createGrpcClient,
  createServer,
  isSanitizedError,
  isTransportFailure,
  isUnsentError,
  readErrorInfo,
  sanitizedErrorHeader,
  serviceRegistration,
} from '../src/index.ts';

type HealthCall = ServerUnaryCall<{ service: string }, unknown>;
type WatchCall = ServerWritableStream<{ service: string }, unknown>;

/** What the bare grpc-js server does for Health/Check and Health/Watch; each test sets it. */
const handlers: {
  check: (call: HealthCall, callback: sendUnaryData<unknown>) => void;
  watch: (call: WatchCall) => void;
} = {
  check: (_call, callback) => callback(null, { status: ServingStatus.SERVING }),
  watch: (call) => call.end(),
};

function definitionOf(method: DescMethod) {
  const { input, output } = method;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    requestStream: false,
    responseStream: method.methodKind === 'server_streaming',
    requestSerialize: (m: unknown) => Buffer.from(toBinary(input, create(input as DescMessage, m as never))),
    requestDeserialize: (b: Buffer) => fromBinary(input, b),
    responseSerialize: (m: unknown) =>
      Buffer.from(toBinary(output, create(output as DescMessage, m as never))),
    responseDeserialize: (b: Buffer) => fromBinary(output, b),
  };
}

const healthDefinition: ServiceDefinition = {
  check: definitionOf(Health.method.check),
  watch: definitionOf(Health.method.watch),
};

async function startGrpcJsServer(
  port = 0,
  credentials = ServerCredentials.createInsecure(),
): Promise<{ server: Server; address: string }> {
  const server = new Server();
  server.addService(healthDefinition, {
    check: (call: HealthCall, callback: sendUnaryData<unknown>) => handlers.check(call, callback),
    watch: (call: WatchCall) => handlers.watch(call),
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, credentials, (error, p) => (error ? reject(error) : resolve(p))),
  );
  return { server, address: `127.0.0.1:${bound}` };
}

const stop = (server: Server) => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));

/** The error a call failed with; fails the test when it succeeds. */
async function failure(call: Promise<unknown> | (() => Promise<unknown>)): Promise<ConnectError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return error as ConnectError;
  }
  throw new Error('the call succeeded');
}

let grpcJs: { server: Server; address: string };
beforeAll(async () => {
  grpcJs = await startGrpcJsServer();
});
afterAll(async () => {
  await stop(grpcJs.server);
});
afterEach(() => {
  handlers.check = (_call, callback) => callback(null, { status: ServingStatus.SERVING });
  handlers.watch = (call) => call.end();
});

test('unary: request headers reach the server, response headers and trailers come back', async () => {
  let seen: Record<string, unknown> = {};
  handlers.check = (call, callback) => {
    seen = {
      plain: call.metadata.get('x-plain'),
      binary: call.metadata.get('x-thing-bin'),
      deadline: call.getDeadline(),
      service: call.request.service,
    };
    const header = new Metadata();
    header.set('x-answer', 'yes');
    header.set('x-answer-bin', Buffer.from([1, 2, 3]));
    call.sendMetadata(header);
    const trailer = new Metadata();
    trailer.set('x-trail', 'done');
    callback(null, { status: ServingStatus.SERVING }, trailer);
  };
  const health = createGrpcClient(Health, { address: grpcJs.address });
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const res = await health.check(
    { service: 'orders' },
    {
      headers: { 'x-plain': 'p1', 'x-thing-bin': encodeBinaryHeader(new Uint8Array([9, 8, 7])) },
      timeoutMs: 60_000,
      onHeader: (h) => {
        header = h;
      },
      onTrailer: (t) => {
        trailer = t;
      },
    },
  );
  expect(res.status).toBe(ServingStatus.SERVING);
  expect(seen.service).toBe('orders');
  expect(seen.plain).toEqual(['p1']);
  expect(seen.binary).toEqual([Buffer.from([9, 8, 7])]);
  // The deadline went to the server as grpc-timeout.
  expect(Number.isFinite(Number(seen.deadline))).toBe(true);
  expect(header?.get('x-answer')).toBe('yes');
  expect([...decodeBinaryHeader(header?.get('x-answer-bin') ?? '')]).toEqual([1, 2, 3]);
  expect(trailer?.get('x-trail')).toBe('done');
});

test('server streaming: every message in order, then the trailers; clients of two services share the channel', async () => {
  handlers.watch = (call) => {
    call.sendMetadata(new Metadata());
    for (const status of [ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVICE_UNKNOWN]) {
      call.write({ status });
    }
    const trailer = new Metadata();
    trailer.set('x-watched', String(call.request.service));
    call.end(trailer);
  };
  const channel = createGrpcChannel({ address: grpcJs.address });
  const health = createClient(Health, channel);
  let trailer: Headers | undefined;
  const statuses: ServingStatus[] = [];
  for await (const res of health.watch({ service: 'inventory' }, { onTrailer: (t) => (trailer = t) })) {
    statuses.push(res.status);
  }
  expect(statuses).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVICE_UNKNOWN]);
  expect(trailer?.get('x-watched')).toBe('inventory');
  // A client of another service on the same channel: an unknown method there, on the same connection.
  const tools = createClient(ToolService, channel);
  expect((await failure(tools.listTools({}))).code).toBe(Code.Unimplemented);
  expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
});

test('an error keeps its code, message, trailers and typed details', async () => {
  const sent = createError(
    Code.ResourceExhausted,
    'RATE_LIMITED',
    'rate limit reached, retry in 2 s: user/u_1?',
    {
      retryAfterMs: 2_000,
      metadata: { scope: 'user' },
    },
  );
  const details = setTrailerStatus(new Headers(), sent).get('grpc-status-details-bin') ?? '';
  handlers.check = (_call, callback) => {
    const trailer = new Metadata();
    trailer.set('grpc-status-details-bin', Buffer.from(details, 'base64'));
    trailer.set(sanitizedErrorHeader, '1');
    callback({ code: grpcStatus.RESOURCE_EXHAUSTED, details: sent.rawMessage, metadata: trailer });
  };
  const health = createGrpcClient(Health, { address: grpcJs.address });
  const error = await failure(health.check({ service: '' }));
  expect(error.code).toBe(Code.ResourceExhausted);
  expect(error.rawMessage).toBe('rate limit reached, retry in 2 s: user/u_1?');
  expect(readErrorInfo(error)).toMatchObject({
    reason: 'RATE_LIMITED',
    domain: 'toolmesh',
    metadata: { scope: 'user' },
    retryAfterMs: 2_000,
  });
  expect(isSanitizedError(error)).toBe(true);
  // Answered by the server: neither unsent nor a failure of the hop.
  expect(isUnsentError(error)).toBe(false);
  expect(isTransportFailure(error)).toBe(false);

  // Without details, the status alone; a server's UNAVAILABLE was still sent.
  handlers.check = (_call, callback) =>
    callback({ code: grpcStatus.UNAVAILABLE, details: 'draining, a, b/c' });
  const plain = await failure(health.check({ service: '' }));
  expect([plain.code, plain.rawMessage, plain.details]).toEqual([Code.Unavailable, 'draining, a, b/c', []]);
  expect(isUnsentError(plain)).toBe(false);
});

test("the mesh server's errors come through with their details, message byte for byte", async () => {
  const logger = createLogger({ service: 'grpc-js-transport-test', level: 'silent' });
  const message = 'order 202604100018: not yours, try /orders?mine=1 & 100% sure #2';
  const server = createServer({
    logger,
    services: [
      serviceRegistration(ToolService, {
        invokeTool() {
          throw createError(Code.NotFound, 'NOT_FOUND', message, { metadata: { tool: 'get_order_detail' } });
        },
      }),
    ],
  });
  const port = await server.listen(0);
  try {
    const tools = createGrpcClient(ToolService, { address: `127.0.0.1:${port}` });
    const error = await failure(tools.invokeTool({ toolName: 'get_order_detail', argumentsJson: '{}' }));
    expect([error.code, error.rawMessage]).toEqual([Code.NotFound, message]);
    expect(readErrorInfo(error)).toMatchObject({
      reason: 'NOT_FOUND',
      metadata: { tool: 'get_order_detail' },
    });
  } finally {
    await server.shutdown(1_000);
  }
});

test('a server that never answers: the deadline ends the call as DEADLINE_EXCEEDED', async () => {
  // Never answers (whether a call gets there before its deadline depends on the machine's load).
  handlers.check = () => {};
  const health = createGrpcClient(Health, { address: grpcJs.address });
  expect((await failure(health.check({ service: '' }, { timeoutMs: 50 }))).code).toBe(Code.DeadlineExceeded);
  // The client's default deadline, for calls that set none.
  const hurried = createGrpcClient(Health, { address: grpcJs.address, defaultTimeoutMs: 50 });
  const error = await failure(hurried.check({ service: '' }));
  expect(error.code).toBe(Code.DeadlineExceeded);
  expect(isTransportFailure(error)).toBe(true);
  expect(isUnsentError(error)).toBe(false);
});

test("the caller's signal cancels a unary call and a stream, on the server too", async () => {
  let reached!: () => void;
  let cancelled!: () => void;
  const arm = () => ({
    reached: new Promise<void>((resolve) => {
      reached = resolve;
    }),
    cancelled: new Promise<void>((resolve) => {
      cancelled = resolve;
    }),
  });
  handlers.check = (call) => {
    call.on('cancelled', () => cancelled());
    reached();
  };
  const health = createGrpcClient(Health, { address: grpcJs.address });
  let seen = arm();
  const controller = new AbortController();
  const call = health.check({ service: '' }, { signal: controller.signal });
  await seen.reached;
  controller.abort();
  expect((await failure(call)).code).toBe(Code.Canceled);
  await seen.cancelled;

  handlers.watch = (stream) => {
    stream.on('cancelled', () => cancelled());
    stream.write({ status: ServingStatus.SERVING });
  };
  seen = arm();
  const streamController = new AbortController();
  const statuses: ServingStatus[] = [];
  const error = await failure(async () => {
    for await (const res of health.watch({ service: '' }, { signal: streamController.signal })) {
      statuses.push(res.status);
      streamController.abort();
    }
  });
  expect([statuses, error.code]).toEqual([[ServingStatus.SERVING], Code.Canceled]);
  await seen.cancelled;
});

test('a call whose signal is already aborted is CANCELED and never sent', async () => {
  let reached = 0;
  handlers.check = (_call, callback) => {
    reached++;
    callback(null, { status: ServingStatus.SERVING });
  };
  const health = createGrpcClient(Health, { address: grpcJs.address });
  const error = await failure(health.check({ service: '' }, { signal: AbortSignal.abort() }));
  expect(error.code).toBe(Code.Canceled);
  // The server hears the next call only: the first never left.
  expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  expect(reached).toBe(1);
});

test('an address nobody listens on fails unsent; once a server listens there, the next call reaches it', async () => {
  const port = await freePort();
  const health = createGrpcClient(Health, { address: `127.0.0.1:${port}` });
  for (let i = 0; i < 2; i++) {
    const error = await failure(health.check({ service: '' }));
    expect([error.code, isUnsentError(error), isTransportFailure(error)]).toEqual([
      Code.Unavailable,
      true,
      true,
    ]);
  }
  const late = await startGrpcJsServer(port);
  try {
    expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  } finally {
    await stop(late.server);
  }
  // A name that does not resolve was not sent either.
  const nowhere = createGrpcClient(Health, { address: 'nowhere.invalid:50051' });
  expect(isUnsentError(await failure(nowhere.check({ service: '' })))).toBe(true);
});

// A message as connect's servers write grpc-message (encodeURIComponent; grpc-js's use encodeURI).
const failedPrecondition = 'not now, a/b: c?d=e & 100% sure #2';

/**
 * A bare HTTP/2 server: counts its connections; answers Health/Check SERVING, refuses every
 * stream, or fails every call (trailers only) with FAILED_PRECONDITION as connect writes it.
 */
async function startHttp2Server(mode: 'answer' | 'refuse' | 'fail') {
  const sessions: http2.ServerHttp2Session[] = [];
  const server = http2.createServer();
  server.on('session', (session) => sessions.push(session));
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    if (mode === 'refuse') return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    if (mode === 'fail') {
      return stream.respond(
        {
          ':status': 200,
          'content-type': 'application/grpc',
          'grpc-status': String(Code.FailedPrecondition),
          'grpc-message': encodeURIComponent(failedPrecondition),
        },
        { endStream: true },
      );
    }
    stream.resume();
    stream.on('end', () => {
      const body = toBinary(HealthCheckResponseSchema, create(HealthCheckResponseSchema, { status: 1 }));
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { address: `127.0.0.1:${port}`, sessions, close };
}

test('a stream the server refuses (REFUSED_STREAM) is unsent', async () => {
  const refusing = await startHttp2Server('refuse');
  try {
    const health = createGrpcClient(Health, { address: refusing.address });
    const error = await failure(health.check({ service: '' }));
    expect([error.code, isUnsentError(error)]).toEqual([Code.Unavailable, true]);
  } finally {
    await refusing.close();
  }
});

test('a status message written as connect writes it arrives as sent', async () => {
  const failing = await startHttp2Server('fail');
  try {
    const health = createGrpcClient(Health, { address: failing.address });
    const error = await failure(health.check({ service: '' }));
    expect([error.code, error.rawMessage]).toEqual([Code.FailedPrecondition, failedPrecondition]);
    const watched = await failure(async () => {
      for await (const _ of health.watch({ service: '' })) throw new Error('no message was sent');
    });
    expect([watched.code, watched.rawMessage]).toEqual([Code.FailedPrecondition, failedPrecondition]);
  } finally {
    await failing.close();
  }
});

test('one connection per channel, whatever the number of calls and clients; close() drops it', async () => {
  const h2 = await startHttp2Server('answer');
  try {
    const channel = createGrpcChannel({ address: h2.address }) as GrpcJsTransport;
    const first = createClient(Health, channel);
    const second = createClient(Health, channel);
    await Promise.all([
      first.check({ service: '' }),
      second.check({ service: '' }),
      first.check({ service: '' }),
    ]);
    expect(h2.sessions).toHaveLength(1);
    // Another channel to the same address dials its own (grpc-js would share one by default).
    await createGrpcClient(Health, { address: h2.address }).check({ service: '' });
    expect(h2.sessions).toHaveLength(2);

    const [session] = h2.sessions;
    const gone = new Promise<void>((resolve) => session?.once('close', () => resolve()));
    channel.close();
    await gone;
    const error = await failure(first.check({ service: '' }));
    expect([error.code, isUnsentError(error)]).toEqual([Code.Unavailable, true]);
  } finally {
    for (const session of h2.sessions) session.destroy();
    await h2.close();
  }
});

test("calls past a connection's stream limit go over another connection, not wait for a free stream", async () => {
  // A server that admits 2 concurrent streams per connection, and 5 streams held open at once
  // (a Health watch stays open): on one connection the last 3 would wait, unsent.
  const logger = createLogger({ service: 'grpc-js-transport-test', level: 'silent' });
  const server = createServer({ logger, services: [], limits: { maxConcurrentStreams: 2 } });
  const port = await server.listen(0);
  const transport = createGrpcJsTransport({
    address: `127.0.0.1:${port}`,
    credentials: channelCredentials.createInsecure(),
    channelOptions: grpcJsChannelOptions(),
    maxCallsPerConnection: 2,
  });
  const controller = new AbortController();
  try {
    const health = createClient(Health, transport);
    const firsts = Array.from({ length: 5 }, async () => {
      for await (const res of health.watch({ service: '' }, { signal: controller.signal })) return res.status;
    });
    // Each got its first answer (the server's overall status), so each is open on the server.
    const statuses = await Promise.all(firsts);
    expect(statuses).toEqual(Array(5).fill(statuses[0]));
    expect(statuses[0]).toBeDefined();
    // Unary calls take streams too, and find room among the connections as well.
    await Promise.all(Array.from({ length: 3 }, () => health.check({ service: '' })));
  } finally {
    controller.abort();
    transport.close();
    await server.shutdown(0);
  }
});

describe('mutual TLS', () => {
  const pki = createTestPki('toolmesh-grpc-js-tls-');
  const ca = pki.ca;
  const issue = (by: string, name: string, san?: string) => pki.issue(by, name, name, san);
  const tlsOf = (who: string, serverName?: string) => ({
    ...pki.files(who),
    ...(serverName ? { serverName } : {}),
  });
  let secure: { server: Server; address: string };

  beforeAll(async () => {
    ca('ca');
    ca('other-ca');
    // The certificate names the service, not the address dialled (as for DNS discovery's pod IPs).
    issue('ca', 'server', 'DNS:orchestrator.mesh.internal');
    issue('ca', 'client');
    issue('other-ca', 'stranger');
    const read = (name: string) => fs.readFileSync(pki.file(name));
    secure = await startGrpcJsServer(
      0,
      ServerCredentials.createSsl(
        read('ca.crt'),
        [{ cert_chain: read('server.crt'), private_key: read('server.key') }],
        true,
      ),
    );
  });
  afterAll(async () => {
    await stop(secure.server);
    pki.remove();
  });

  test('a client with a certificate of the CA calls a server checked against the name it is given', async () => {
    const health = createGrpcClient(Health, {
      address: secure.address,
      tls: tlsOf('client', 'orchestrator.mesh.internal'),
    });
    expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
    // The same with the name given per address, as a client pool does.
    const byAddress = createGrpcClient(Health, {
      address: secure.address,
      tls: { ...tlsOf('client'), serverName: () => 'orchestrator.mesh.internal' },
    });
    expect((await byAddress.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  });

  test('a server not named as expected, or a client the CA did not sign, gets no call through', async () => {
    let reached = 0;
    handlers.check = (_call, callback) => {
      reached++;
      callback(null, { status: ServingStatus.SERVING });
    };
    const misnamed = createGrpcClient(Health, { address: secure.address, tls: tlsOf('client') });
    expect((await failure(misnamed.check({ service: '' }))).code).toBe(Code.Unavailable);
    const stranger = createGrpcClient(Health, {
      address: secure.address,
      tls: tlsOf('stranger', 'orchestrator.mesh.internal'),
    });
    expect((await failure(stranger.check({ service: '' }))).code).toBe(Code.Unavailable);
    expect(reached).toBe(0);
  });
});
