// The mesh's internal servers on grpc-js: what connect-node's gRPC server did, call for call, to
// a connect-node gRPC client: messages, headers and trailers, statuses with their details,
// deadlines and cancellation reaching the handler, the size bound, health, reflection, shutdown.
import { Writable } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { type CallOptions, Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import * as grpc from '@grpc/grpc-js';
import { createManualClock } from '@toolmesh/clock';
import {
  Health,
  reflectionV1,
  HealthCheckResponse_ServingStatus as ServingStatus,
  TaskService,
  ToolService,
} from '@toolmesh/proto';
import { createLogger, createMetricsRegistry } from '@toolmesh/telemetry';
import {
  createError,
  createServer,
  isSanitizedError,
  readErrorInfo,
  requestIdKey,
  type Server,
  serviceRegistration,
  statusMessage,
} from '../src/index.ts';

const logLines: string[] = [];
const logger = createLogger({
  service: 'rpc-grpc-js-server-test',
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
});

/** Resolves with what it is told, once: a handler tells the test what it saw. */
function told<T>() {
  let tell!: (value: T) => void;
  const seen = new Promise<T>((resolve) => {
    tell = resolve;
  });
  return { tell, seen };
}

// The handlers tell the test how their signal ended, per tool name.
const aborted = new Map<string, ReturnType<typeof told<unknown>>>();
const abortSeen = (name: string) => {
  const t = told<unknown>();
  aborted.set(name, t);
  return t.seen;
};
// Calls the test holds open until it releases them.
const held = new Map<string, () => void>();
const started = new Map<string, ReturnType<typeof told<void>>>();
const startSeen = (name: string) => {
  const t = told<void>();
  started.set(name, t);
  return t.seen;
};

/** Resolves once the signal has aborted (at once if it already has: a call may start late). */
const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

const secret = 'postgres://admin:hunter2@db';
const seenByInterceptor: { requestId?: string; header?: string | null }[] = [];
const callerInterceptor: Interceptor = (next) => async (req) => {
  seenByInterceptor.push({
    requestId: req.contextValues.get(requestIdKey),
    header: req.header.get('x-asked'),
  });
  return next(req);
};

const toolService = serviceRegistration(ToolService, {
  async invokeTool(req, ctx) {
    switch (req.toolName) {
      case 'echo':
        ctx.responseHeader.set('x-answer', `heard ${ctx.requestHeader.get('x-asked') ?? 'nothing'}`);
        ctx.responseTrailer.set('x-trailer', 'after');
        ctx.responseTrailer.set('x-blob-bin', Buffer.from([0, 1, 2, 255]).toString('base64'));
        return { outcome: { case: 'resultJson', value: req.argumentsJson } };
      case 'overloaded':
        throw createError(Code.ResourceExhausted, 'OVERLOADED', 'too busy, come back later', {
          retryAfterMs: 1500,
          metadata: { limit: '4' },
        });
      case 'broken':
        throw new Error(`cannot reach ${secret}`);
      case 'wait-for-abort':
      case 'cancelled':
        started.get(req.toolName)?.tell();
        await untilAborted(ctx.signal);
        aborted.get(req.toolName)?.tell(ctx.signal.reason);
        throw ConnectError.from(ctx.signal.reason);
      case 'held':
        started.get(req.argumentsJson)?.tell();
        await Promise.race([
          new Promise<void>((resolve) => held.set(req.argumentsJson, resolve)),
          untilAborted(ctx.signal).then(() => aborted.get(req.argumentsJson)?.tell(ctx.signal.reason)),
        ]);
        return { outcome: { case: 'resultJson', value: req.argumentsJson } };
      default:
        return { outcome: { case: 'resultJson', value: '{}' } };
    }
  },
});

const taskService = serviceRegistration(TaskService, {
  async *watchTask(req, ctx) {
    ctx.responseHeader.set('x-stream', 'open');
    for (const progressPercent of [0, 50, 100]) {
      if (req.taskId === 'fails' && progressPercent === 50)
        throw createError(Code.Unavailable, 'DEPENDENCY_UNAVAILABLE', 'the store went away', {
          retryAfterMs: 250,
        });
      yield { task: { taskId: req.taskId, progressPercent } };
    }
    ctx.responseTrailer.set('x-stream-end', 'done');
  },
});

const metrics = createMetricsRegistry({ processMetrics: false });
const clock = createManualClock();
test('httpRoutes or cors on a gRPC-only server are refused at construction', () => {
  expect(() =>
    createServer({ logger, services: [], httpRoutes: [{ path: '/mcp', handler: () => {} }] }),
  ).toThrow(/protocols: 'all'/);
  expect(() =>
    createServer({ logger, services: [], cors: { allowedOrigins: ['https://app.example.com'] } }),
  ).toThrow(/protocols: 'all'/);
});

// The same calls against both kinds of port: an internal one is a bound grpc-js server; on the
// public one (gRPC, gRPC-Web and Connect) plain gRPC calls are handed to grpc-js stream by stream.
describe.each([
  ['an internal port (gRPC only)', 'grpc'],
  ['the public port (every protocol)', 'all'],
] as const)('%s', (_port, protocols) => {
  let server: Server;
  let address: string;

  beforeAll(async () => {
    server = createServer({
      logger,
      metrics,
      clock,
      services: [toolService, taskService],
      interceptors: [callerInterceptor],
      readMaxBytes: 16 * 1024,
      protocols,
    });
    address = `127.0.0.1:${await server.listen(0)}`;
    server.health.setAll(true);
  });

  afterAll(() => server.shutdown(1_000));

  const transport = () => createGrpcTransport({ baseUrl: `http://${address}` });
  const tools = () => createClient(ToolService, transport());

  /** The error a call failed with; fails the test when it succeeds. */
  async function errorOf(call: Promise<unknown>): Promise<ConnectError> {
    try {
      await call;
    } catch (error) {
      return ConnectError.from(error);
    }
    throw new Error('the call succeeded');
  }

  test('unary: the message, the request header in, response headers and trailers (binary too) out', async () => {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const options: CallOptions = {
      headers: { 'x-asked': 'question', 'x-request-id': 'req-grpc-js-1' },
      onHeader: (h) => {
        header = h;
      },
      onTrailer: (t) => {
        trailer = t;
      },
    };
    const res = await tools().invokeTool({ toolName: 'echo', argumentsJson: '{"a":1}' }, options);
    expect(res.outcome).toEqual({ case: 'resultJson', value: '{"a":1}' });
    expect(header?.get('x-answer')).toBe('heard question');
    // The tracing interceptor's echo of the caller's request id, as on every server.
    expect(header?.get('x-request-id')).toBe('req-grpc-js-1');
    expect(trailer?.get('x-trailer')).toBe('after');
    expect(Buffer.from(trailer?.get('x-blob-bin') ?? '', 'base64')).toEqual(Buffer.from([0, 1, 2, 255]));
    // The caller's interceptors run inside the server's: the request id is already in the context.
    expect(seenByInterceptor).toContainEqual({ requestId: 'req-grpc-js-1', header: 'question' });
    const handled = await metrics.getSingleMetricAsString('grpc_server_handled_total');
    expect(handled).toMatch(
      /grpc_server_handled_total\{grpc_type="unary",grpc_service="toolmesh.v1.ToolService",grpc_method="InvokeTool",grpc_code="OK"\} [1-9]/,
    );
  });

  test('server streaming: every message in order, the header before them, the trailer after', async () => {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const tasks = createClient(TaskService, transport());
    const progress: number[] = [];
    for await (const res of tasks.watchTask(
      { taskId: 't1' },
      { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
    )) {
      progress.push(res.task?.progressPercent ?? -1);
    }
    expect(progress).toEqual([0, 50, 100]);
    expect(header?.get('x-stream')).toBe('open');
    expect(trailer?.get('x-stream-end')).toBe('done');
  });

  test('a public error keeps its code, message and details (ErrorInfo, RetryInfo): unary and mid-stream', async () => {
    const error = await errorOf(tools().invokeTool({ toolName: 'overloaded' }));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.rawMessage).toBe('too busy, come back later');
    expect(readErrorInfo(error)).toEqual({
      reason: 'OVERLOADED',
      domain: 'toolmesh',
      metadata: { limit: '4' },
      retryAfterMs: 1500,
    });
    expect(isSanitizedError(error)).toBe(true);

    const received: number[] = [];
    const streamError = await errorOf(
      (async () => {
        for await (const res of createClient(TaskService, transport()).watchTask({ taskId: 'fails' }))
          received.push(res.task?.progressPercent ?? -1);
      })(),
    );
    expect(received).toEqual([0]);
    expect(streamError.code).toBe(Code.Unavailable);
    expect(streamError.rawMessage).toBe('the store went away');
    expect(readErrorInfo(streamError)).toMatchObject({ reason: 'DEPENDENCY_UNAVAILABLE', retryAfterMs: 250 });
  });

  test('a plain Error is INTERNAL with the generic message: nothing of it reaches the caller, the log has it', async () => {
    const error = await errorOf(tools().invokeTool({ toolName: 'broken' }));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).toBe(statusMessage(Code.Internal));
    expect(JSON.stringify(error.metadata.get('grpc-status-details-bin') ?? '')).not.toContain('hunter2');
    expect(readErrorInfo(error)?.reason).toBe('INTERNAL');
    for (const [, value] of error.metadata) expect(value).not.toContain('hunter2');
    expect(logLines.some((line) => line.includes('hunter2'))).toBe(true);
  });

  test('a deadline that passes is DEADLINE_EXCEEDED for the caller, and aborts the handler with that reason', async () => {
    // The server times deadlines on its (manual) clock: the call is in the handler before its
    // deadline passes however slow the machine, and the caller's own timer is far away.
    const reason = abortSeen('wait-for-abort');
    const inHandler = startSeen('wait-for-abort');
    const hour = 3_600_000;
    const call = errorOf(tools().invokeTool({ toolName: 'wait-for-abort' }, { timeoutMs: hour }));
    await inHandler;
    await clock.advance(hour);
    expect((await call).code).toBe(Code.DeadlineExceeded);
    expect(ConnectError.from(await reason).code).toBe(Code.DeadlineExceeded);
  });

  test('a caller that cancels aborts the handler as CANCELED', async () => {
    const reason = abortSeen('cancelled');
    const inHandler = startSeen('cancelled');
    const controller = new AbortController();
    const call = errorOf(tools().invokeTool({ toolName: 'cancelled' }, { signal: controller.signal }));
    await inHandler;
    controller.abort();
    expect((await call).code).toBe(Code.Canceled);
    expect(ConnectError.from(await reason).code).toBe(Code.Canceled);
  });

  test('a request over readMaxBytes is RESOURCE_EXHAUSTED, a broken one INVALID_ARGUMENT', async () => {
    const error = await errorOf(tools().invokeTool({ toolName: 'echo', argumentsJson: 'x'.repeat(20_000) }));
    expect(error.code).toBe(Code.ResourceExhausted);

    // Bytes that are no InvokeToolRequest (a length-delimited field running past the end).
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<grpc.ServiceError>((resolve, reject) =>
        client.makeUnaryRequest(
          '/toolmesh.v1.ToolService/InvokeTool',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x0a, 0x7f, 0x01]),
          (err) => (err ? resolve(err) : reject(new Error('the call succeeded'))),
        ),
      );
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toBe('invalid request message');
    } finally {
      client.close();
    }
  });

  test('a method the implementation lacks, and one the server does not know, are UNIMPLEMENTED', async () => {
    expect((await errorOf(tools().listTools({}))).code).toBe(Code.Unimplemented);
    expect((await errorOf(createClient(TaskService, transport()).getTask({ taskId: 'x' }))).code).toBe(
      Code.Unimplemented,
    );
    const client = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      const status = await new Promise<grpc.ServiceError>((resolve, reject) =>
        client.makeUnaryRequest(
          '/nope.Service/Nothing',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.alloc(0),
          (err) => (err ? resolve(err) : reject(new Error('the call succeeded'))),
        ),
      );
      expect(status.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  test('health: Check for the server and each service, Watch follows a change', async () => {
    const health = createClient(Health, transport());
    expect((await health.check({ service: '' })).status).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: 'toolmesh.v1.TaskService' })).status).toBe(ServingStatus.SERVING);
    expect((await errorOf(health.check({ service: 'nope.Service' }))).code).toBe(Code.NotFound);

    const controller = new AbortController();
    const watch = health
      .watch({ service: 'toolmesh.v1.ToolService' }, { signal: controller.signal })
      [Symbol.asyncIterator]();
    try {
      expect((await watch.next()).value?.status).toBe(ServingStatus.SERVING);
      server.health.set('toolmesh.v1.ToolService', false);
      expect((await watch.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    } finally {
      server.health.set('toolmesh.v1.ToolService', true);
      controller.abort();
    }
  });

  test('reflection lists every service served (grpcurl list), over a bidi stream', async () => {
    const reflection = createClient(reflectionV1.ServerReflection, transport());
    async function* requests() {
      yield create(reflectionV1.ServerReflectionRequestSchema, {
        messageRequest: { case: 'listServices', value: '' },
      });
      yield create(reflectionV1.ServerReflectionRequestSchema, {
        messageRequest: { case: 'fileContainingSymbol', value: 'toolmesh.v1.ToolService' },
      });
    }
    const answers = [];
    for await (const res of reflection.serverReflectionInfo(requests())) answers.push(res);
    expect(answers).toHaveLength(2);
    const list = answers[0]?.messageResponse;
    expect(list?.case).toBe('listServicesResponse');
    const names = list?.case === 'listServicesResponse' ? list.value.service.map((s) => s.name) : [];
    expect(names).toEqual(
      expect.arrayContaining([
        'toolmesh.v1.ToolService',
        'toolmesh.v1.TaskService',
        'grpc.health.v1.Health',
        'grpc.reflection.v1.ServerReflection',
        'grpc.reflection.v1alpha.ServerReflection',
      ]),
    );
    expect(answers[1]?.messageResponse.case).toBe('fileDescriptorResponse');
  });

  test('shutdown: NOT_SERVING, in-flight calls finish, new connections are refused', async () => {
    // The grace period runs on a clock nobody advances: shutdown can only end by draining.
    const local = createServer({ logger, services: [toolService], clock: createManualClock(), protocols });
    const at = `127.0.0.1:${await local.listen(0)}`;
    local.health.setAll(true);
    const client = createClient(ToolService, createGrpcTransport({ baseUrl: `http://${at}` }));
    const inHandler = startSeen('drained');
    const slow = client.invokeTool({ toolName: 'held', argumentsJson: 'drained' });
    await inHandler;
    const stopped = local.shutdown(60_000);
    // The call in flight runs on past the GOAWAY, to its end.
    held.get('drained')?.();
    expect((await slow).outcome).toEqual({ case: 'resultJson', value: 'drained' });
    await stopped;
    // The port is closed: connect-node reports the refused connection itself.
    const fresh = createClient(Health, createGrpcTransport({ baseUrl: `http://${at}` }));
    expect(String((await errorOf(fresh.check({ service: '' }))).cause)).toContain('ECONNREFUSED');
  });

  test('shutdown: at the end of the grace period the calls left are cancelled and their handlers aborted', async () => {
    const graceClock = createManualClock();
    const local = createServer({ logger, services: [toolService], clock: graceClock, protocols });
    const at = `127.0.0.1:${await local.listen(0)}`;
    local.health.setAll(true);
    const client = createClient(ToolService, createGrpcTransport({ baseUrl: `http://${at}` }));
    const inHandler = startSeen('stuck');
    const reason = abortSeen('stuck');
    const stuck = errorOf(client.invokeTool({ toolName: 'held', argumentsJson: 'stuck' }));
    await inHandler;
    const stopped = local.shutdown(5_000);
    await graceClock.advance(5_000);
    await stopped;
    expect(ConnectError.from(await reason).code).toBe(Code.Canceled);
    expect([Code.Canceled, Code.Unavailable]).toContain((await stuck).code);
  });
});
