// The gRPC side of telemetry: go-grpc-prometheus series on both ends, the request id in
// the response header, in outgoing calls and in log lines of unary and streaming handlers.
import { Writable } from 'node:stream';
import type { DescService } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { TaskService, ToolService } from '@toolmesh/proto';
import { createLogger, createMetricsRegistry, type Registry, startTracing } from '@toolmesh/telemetry';
import {
  type ClosableTransport,
  createGrpcChannel,
  createServer,
  requestIdKey,
  type Server,
  serviceRegistration,
} from '../src/index.ts';

const logLines: Record<string, unknown>[] = [];
const logger = createLogger({
  service: 'rpc-telemetry-test',
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  }),
});

let server: Server;
let address: string;
let serverMetrics: Registry;
let clientMetrics: Registry;
const seenRequestIds: string[] = [];

beforeAll(async () => {
  // Installs the context manager that carries the request id (no spans are exported).
  await startTracing('rpc-telemetry-test', {});
  serverMetrics = createMetricsRegistry({ processMetrics: false });
  clientMetrics = createMetricsRegistry({ processMetrics: false });
  server = createServer({
    logger,
    metrics: serverMetrics,
    services: [
      serviceRegistration(ToolService, {
        listTools(_req, ctx) {
          seenRequestIds.push(ctx.values.get(requestIdKey));
          logger.info('listing tools');
          return { tools: [] };
        },
      }),
      serviceRegistration(TaskService, {
        getTask() {
          throw new ConnectError('no such task', Code.NotFound);
        },
        async *watchTask() {
          for (let i = 0; i < 3; i++) {
            await new Promise((resolve) => setImmediate(resolve));
            // Logged from inside the stream, after an await: the context must still be there.
            logger.info({ step: i }, 'watching');
            yield {};
          }
        },
      }),
    ],
  });
  address = `127.0.0.1:${await server.listen(0)}`;
  server.health.setAll(true);
});

// Each test's connections are closed at the end, so nothing outlives the file.
const channels: ClosableTransport[] = [];
const grpcClient = <T extends DescService>(service: T, metrics?: Registry) => {
  const channel = createGrpcChannel({ address, ...(metrics ? { metrics } : {}) });
  channels.push(channel);
  return createClient(service, channel);
};

afterAll(async () => {
  for (const channel of channels) channel.close();
  await server.shutdown(1_000);
});

const metricLine = async (registry: Registry, name: string, labels: Record<string, string>) => {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = (await registry.metrics())
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

test('unary calls: counted on both ends with go-grpc-prometheus names, codes by name', async () => {
  const tools = grpcClient(ToolService, clientMetrics);
  const tasks = grpcClient(TaskService, clientMetrics);
  let echoed: string | null = null;
  await tools.listTools(
    {},
    { headers: { 'x-request-id': 'req-from-caller' }, onHeader: (h) => (echoed = h.get('x-request-id')) },
  );
  expect(echoed).toBe('req-from-caller');
  await expect(tasks.getTask({ taskId: 'x' })).rejects.toMatchObject({ code: Code.NotFound });

  const listTools = { grpc_type: 'unary', grpc_service: 'toolmesh.v1.ToolService', grpc_method: 'ListTools' };
  const getTask = { grpc_type: 'unary', grpc_service: 'toolmesh.v1.TaskService', grpc_method: 'GetTask' };
  for (const side of ['server', 'client'] as const) {
    const registry = side === 'server' ? serverMetrics : clientMetrics;
    expect(await metricLine(registry, `grpc_${side}_started_total`, listTools)).toBe(1);
    expect(await metricLine(registry, `grpc_${side}_handled_total`, { ...listTools, grpc_code: 'OK' })).toBe(
      1,
    );
    expect(await metricLine(registry, `grpc_${side}_msg_received_total`, listTools)).toBe(1);
    expect(await metricLine(registry, `grpc_${side}_msg_sent_total`, listTools)).toBe(1);
    expect(await metricLine(registry, `grpc_${side}_handling_seconds_count`, listTools)).toBe(1);
    expect(
      await metricLine(registry, `grpc_${side}_handled_total`, { ...getTask, grpc_code: 'NotFound' }),
    ).toBe(1);
  }
  // The handler saw the caller's id, and its log line carries it.
  expect(seenRequestIds).toContain('req-from-caller');
  expect(logLines.find((l) => l.msg === 'listing tools')).toMatchObject({ request_id: 'req-from-caller' });
});

test('a call without x-request-id gets one, and a client passes the active one on', async () => {
  const tools = grpcClient(ToolService);
  let echoed: string | null = null;
  await tools.listTools({}, { onHeader: (h) => (echoed = h.get('x-request-id')) });
  expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
  // An unusable id (too long, or with spaces) is replaced rather than logged.
  await tools.listTools(
    {},
    { headers: { 'x-request-id': 'a b' }, onHeader: (h) => (echoed = h.get('x-request-id')) },
  );
  expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
});

test('server streams: each message counted, the end by its code, the context kept inside', async () => {
  const tasks = grpcClient(TaskService, clientMetrics);
  const received = [];
  for await (const message of tasks.watchTask(
    { taskId: 't' },
    { headers: { 'x-request-id': 'req-stream' } },
  )) {
    received.push(message);
  }
  expect(received).toHaveLength(3);
  const watch = {
    grpc_type: 'server_stream',
    grpc_service: 'toolmesh.v1.TaskService',
    grpc_method: 'WatchTask',
  };
  expect(await metricLine(serverMetrics, 'grpc_server_msg_sent_total', watch)).toBe(3);
  expect(await metricLine(serverMetrics, 'grpc_server_handled_total', { ...watch, grpc_code: 'OK' })).toBe(1);
  expect(await metricLine(clientMetrics, 'grpc_client_msg_received_total', watch)).toBe(3);
  expect(await metricLine(clientMetrics, 'grpc_client_handled_total', { ...watch, grpc_code: 'OK' })).toBe(1);
  const watching = logLines.filter((l) => l.msg === 'watching');
  expect(watching.map((l) => l.request_id)).toEqual(['req-stream', 'req-stream', 'req-stream']);
});
