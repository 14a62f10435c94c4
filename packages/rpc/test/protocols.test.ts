// One port, every protocol: gRPC over h2c, Connect (JSON and binary) and gRPC-Web over
// HTTP/1.1 and HTTP/2, the same interceptors and error mapping for all of them.
import http2 from 'node:http2';
import net from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@connectrpc/connect';
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from '@connectrpc/connect-node';
import { createManualClock } from '@toolmesh/clock';
import { Health, TaskService, ToolService } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { waitFor } from '@toolmesh/testkit';
import {
  Code,
  ConnectError,
  createServer,
  errorFor,
  type Interceptor,
  publicError,
  readErrorInfo,
  type Server,
  serviceRegistration,
} from '../src/index.ts';

const logger = createLogger({
  service: 'rpc-protocols-test',
  destination: new Writable({ write: (_chunk, _enc, cb) => cb() }),
});

// Like the gateway's: everything but health needs "authorization: Bearer good".
const auth: Interceptor = (next) => (req) => {
  if (req.service.typeName !== Health.typeName && req.header.get('authorization') !== 'Bearer good') {
    throw publicError(Code.Unauthenticated, 'send "authorization: Bearer <key>"');
  }
  return next(req);
};

// "slow" calls wait in their handler until the test lets them finish.
const slow = { started: 0, release: () => {} };
const slowGate = new Promise<void>((resolve) => {
  slow.release = resolve;
});

const toolService = serviceRegistration(ToolService, {
  listTools: () => ({ tools: [{ name: 'echo', description: 'says it back' }] }),
  async invokeTool(req) {
    if (req.toolName === 'slow') {
      slow.started++;
      await slowGate;
    }
    if (req.toolName === 'missing') throw publicError(Code.NotFound, 'no such tool');
    if (req.toolName === 'busy') {
      throw errorFor('RATE_LIMITED', { retryAfterMs: 2_500, metadata: { scope: 'user' } });
    }
    if (req.toolName === 'crash') throw new Error('secret detail');
    return { outcome: { case: 'resultJson', value: req.argumentsJson } };
  },
});

const taskService = serviceRegistration(TaskService, {
  async *watchTask(req) {
    for (const progressPercent of [0, 50, 100]) {
      yield { task: { taskId: req.taskId, progressPercent } };
    }
  },
});

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer({
    logger,
    services: [toolService, taskService],
    interceptors: [auth],
    cors: { allowedOrigins: ['https://app.example.com'] },
    protocols: 'all',
  });
  const port = await server.listen(0);
  base = `http://127.0.0.1:${port}`;
  server.health.setAll(true);
});

afterAll(() => server.shutdown(1_000));

const postJson = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

const withKey: Interceptor = (next) => (req) => {
  req.header.set('authorization', 'Bearer good');
  return next(req);
};

test('Connect unary with JSON over HTTP/1.1 (curl -d): JSON in, JSON out', async () => {
  const res = await postJson(
    '/toolmesh.v1.ToolService/InvokeTool',
    { toolName: 'echo', argumentsJson: '{"a":1}' },
    { authorization: 'Bearer good' },
  );
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(await res.json()).toEqual({ resultJson: '{"a":1}' });
  // proto field names are accepted too, as protobuf JSON allows.
  const snake = await postJson(
    '/toolmesh.v1.ToolService/InvokeTool',
    { tool_name: 'echo', arguments_json: '{}' },
    { authorization: 'Bearer good' },
  );
  expect(await snake.json()).toEqual({ resultJson: '{}' });
});

test('Connect errors come back as JSON with the matching HTTP status', async () => {
  const anonymous = await postJson('/toolmesh.v1.ToolService/ListTools', {});
  expect(anonymous.status).toBe(401);
  expect(await anonymous.json()).toEqual({
    code: 'unauthenticated',
    message: 'send "authorization: Bearer <key>"',
    details: [
      {
        type: 'google.rpc.ErrorInfo',
        value: expect.any(String),
        debug: { reason: 'UNAUTHENTICATED', domain: 'toolmesh' },
      },
    ],
  });
  const missing = await postJson(
    '/toolmesh.v1.ToolService/InvokeTool',
    { toolName: 'missing' },
    { authorization: 'Bearer good' },
  );
  expect(missing.status).toBe(404);
  expect(await missing.json()).toMatchObject({ code: 'not_found' });
  const broken = await fetch(`${base}/toolmesh.v1.ToolService/InvokeTool`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer good' },
    body: '{"toolName": ',
  });
  expect(broken.status).toBe(400);
  expect(await broken.json()).toMatchObject({ code: 'invalid_argument' });
});

test('an undecodable body is INVALID_ARGUMENT in every protocol; other internal errors stay 500', async () => {
  const garbage = Buffer.from([0xff, 0xff, 0xff]);
  const connect = await fetch(`${base}/toolmesh.v1.ToolService/InvokeTool`, {
    method: 'POST',
    headers: { 'content-type': 'application/proto', authorization: 'Bearer good' },
    body: garbage,
  });
  expect(connect.status).toBe(400);
  expect(await connect.json()).toEqual({ code: 'invalid_argument', message: 'invalid request message' });

  const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, garbage.length]), garbage]);
  const grpcWeb = await fetch(`${base}/toolmesh.v1.ToolService/InvokeTool`, {
    method: 'POST',
    headers: { 'content-type': 'application/grpc-web+proto', authorization: 'Bearer good' },
    body: envelope,
  });
  const body = Buffer.from(await grpcWeb.arrayBuffer());
  const trailer = body.subarray(5).toString('latin1');
  expect(body[0]).toBe(0x80);
  expect(trailer).toContain('grpc-status: 3');
  expect(trailer).toContain('grpc-message: invalid%20request%20message');

  const crash = await postJson(
    '/toolmesh.v1.ToolService/InvokeTool',
    { toolName: 'crash' },
    { authorization: 'Bearer good' },
  );
  expect(crash.status).toBe(500);
  expect(await crash.json()).toMatchObject({
    code: 'internal',
    message: 'internal error',
    details: [{ type: 'google.rpc.ErrorInfo', debug: { reason: 'INTERNAL', domain: 'toolmesh' } }],
  });
});

test('gRPC over h2c, gRPC-Web and Connect over HTTP/1.1 and HTTP/2 all work on the same port', async () => {
  const transports = {
    grpc: createGrpcTransport({ baseUrl: base, interceptors: [withKey] }),
    grpcWeb11: createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1', interceptors: [withKey] }),
    grpcWeb2: createGrpcWebTransport({ baseUrl: base, httpVersion: '2', interceptors: [withKey] }),
    connect11: createConnectTransport({ baseUrl: base, httpVersion: '1.1', interceptors: [withKey] }),
    connect11Binary: createConnectTransport({
      baseUrl: base,
      httpVersion: '1.1',
      useBinaryFormat: true,
      interceptors: [withKey],
    }),
    connect2: createConnectTransport({ baseUrl: base, httpVersion: '2', interceptors: [withKey] }),
  };
  for (const [name, transport] of Object.entries(transports)) {
    const client = createClient(ToolService, transport);
    const res = await client.invokeTool({ toolName: 'echo', argumentsJson: `"${name}"` });
    expect([name, res.outcome.value]).toEqual([name, `"${name}"`]);
    const error = await client.invokeTool({ toolName: 'missing' }).catch((e: unknown) => e);
    expect([name, (error as ConnectError).code]).toEqual([name, Code.NotFound]);
  }
  const anonymous = createClient(ToolService, createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1' }));
  await expect(anonymous.listTools({})).rejects.toMatchObject({ code: Code.Unauthenticated });
});

test('reasons and retry hints travel as typed details in every protocol', async () => {
  const transports = {
    grpc: createGrpcTransport({ baseUrl: base, interceptors: [withKey] }),
    grpcWeb: createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1', interceptors: [withKey] }),
    connect: createConnectTransport({ baseUrl: base, httpVersion: '1.1', interceptors: [withKey] }),
  };
  for (const [name, transport] of Object.entries(transports)) {
    const client = createClient(ToolService, transport);
    const error = ConnectError.from(await client.invokeTool({ toolName: 'busy' }).catch((e: unknown) => e));
    expect([name, error.code, error.rawMessage]).toEqual([
      name,
      Code.ResourceExhausted,
      'rate limit reached for this user; retry in 3 s',
    ]);
    expect([name, readErrorInfo(error)]).toEqual([
      name,
      { reason: 'RATE_LIMITED', domain: 'toolmesh', metadata: { scope: 'user' }, retryAfterMs: 2_500 },
    ]);
    // Errors raised by code alone carry the code's name as their reason.
    const missing = await client.invokeTool({ toolName: 'missing' }).catch((e: unknown) => e);
    expect([name, readErrorInfo(missing)?.reason]).toEqual([name, 'NOT_FOUND']);
  }
});

test('server streaming over HTTP/1.1 (Connect and gRPC-Web)', async () => {
  for (const transport of [
    createConnectTransport({ baseUrl: base, httpVersion: '1.1', interceptors: [withKey] }),
    createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1', interceptors: [withKey] }),
  ]) {
    const tasks = createClient(TaskService, transport);
    const seen: number[] = [];
    for await (const res of tasks.watchTask({ taskId: 't1' })) seen.push(res.task?.progressPercent ?? -1);
    expect(seen).toEqual([0, 50, 100]);
  }
});

test('an HTTP/2 preface and an HTTP/1.1 request split across TCP segments are still told apart', async () => {
  const { port } = new URL(base);
  const exchange = (parts: Buffer[], until: (received: Buffer) => boolean) =>
    new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1');
      let received = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        received = Buffer.concat([received, chunk]);
        if (until(received)) {
          socket.destroy();
          resolve(received);
        }
      });
      socket.on('error', reject);
      socket.on('connect', async () => {
        // A pause between writes makes separate TCP segments (no event marks "segment sent").
        for (const part of parts) {
          socket.write(part);
          await sleep(30);
        }
      });
    });
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
  const emptySettings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const h2 = await exchange(
    [preface.subarray(0, 3), preface.subarray(3, 10), preface.subarray(10), emptySettings],
    (r) => r.length >= 9,
  );
  expect(h2[3]).toBe(0x4); // the server's SETTINGS frame
  const request = Buffer.from(
    'POST /toolmesh.v1.ToolService/ListTools HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}',
  );
  const h1 = await exchange([request.subarray(0, 2), request.subarray(2)], (r) => r.includes('\r\n\r\n'));
  expect(h1.toString()).toMatch(/^HTTP\/1\.1 401/);
});

test('CORS: preflights from allowed origins are answered, others get no CORS headers', async () => {
  const preflight = await fetch(`${base}/toolmesh.v1.ToolService/ListTools`, {
    method: 'OPTIONS',
    headers: {
      origin: 'https://app.example.com',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type, connect-protocol-version',
    },
  });
  expect(preflight.status).toBe(204);
  expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
  const allowHeaders = preflight.headers.get('access-control-allow-headers') ?? '';
  for (const h of ['authorization', 'content-type', 'connect-protocol-version', 'x-grpc-web']) {
    expect(allowHeaders.toLowerCase()).toContain(h);
  }
  const actual = await postJson(
    '/toolmesh.v1.ToolService/ListTools',
    {},
    { origin: 'https://app.example.com', authorization: 'Bearer good' },
  );
  expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  expect(actual.headers.get('access-control-expose-headers')).toContain('Grpc-Status');
  const foreign = await postJson(
    '/toolmesh.v1.ToolService/ListTools',
    {},
    { origin: 'https://evil.example', authorization: 'Bearer good' },
  );
  expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
});

test('shutdown lets in-flight HTTP/1.1 and HTTP/2 calls finish, closes idle connections, refuses new ones', async () => {
  // The grace period runs on a clock nobody advances: shutdown can only end by draining.
  const clock = createManualClock();
  const local = createServer({ logger, services: [toolService], clock, protocols: 'all' });
  const port = await local.listen(0);
  const url = `http://127.0.0.1:${port}`;
  // An idle keep-alive HTTP/1.1 connection and an idle HTTP/2 session must not hold shutdown up.
  const idle = createClient(ToolService, createConnectTransport({ baseUrl: url, httpVersion: '1.1' }));
  await idle.listTools({});
  const session = http2.connect(url);
  await new Promise((resolve) => session.once('connect', resolve));

  const slow11 = createClient(
    ToolService,
    createConnectTransport({ baseUrl: url, httpVersion: '1.1' }),
  ).invokeTool({ toolName: 'slow', argumentsJson: '1' });
  const slow2 = createClient(ToolService, createGrpcTransport({ baseUrl: url })).invokeTool({
    toolName: 'slow',
    argumentsJson: '2',
  });
  await waitFor(() => slow.started === 2, { what: 'both slow calls in their handlers' });
  let stopped = false;
  const shutdown = local.shutdown(5_000).then(() => {
    stopped = true;
  });
  // Draining: new connections are refused while the two calls still run.
  const refused = () =>
    fetch(`${url}/toolmesh.v1.ToolService/ListTools`, { method: 'POST' }).then(
      () => false,
      () => true,
    );
  await waitFor(refused, { what: 'new connections to be refused' });
  expect(stopped).toBe(false);
  slow.release();
  await shutdown;
  expect((await slow11).outcome.value).toBe('1');
  expect((await slow2).outcome.value).toBe('2');
  // Drained before the grace period ran out: its timer is gone, never fired.
  expect(clock.pending()).toBe(0);
  session.destroy();
  expect(await refused()).toBe(true);
});
