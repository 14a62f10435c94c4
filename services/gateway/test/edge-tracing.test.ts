// At the public edge a caller's trace context and request id are not taken as ours: a new
// trace that links to the caller's span, and only a request id of a strict form.
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { connectNodeAdapter, createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@toolmesh/proto';
import { createServerTracingInterceptor, requestIdKey, serviceRegistration } from '@toolmesh/rpc';
import { type Context, type Span, startTracing, trace } from '@toolmesh/telemetry';

interface Started {
  name: string;
  parent: string | undefined;
  links: { traceId: string; spanId: string }[];
  root: boolean;
  traceId: string;
}
const started: Started[] = [];
let nextId = 1;
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

// A tracer that records how each span was started (parent, links) and nothing else.
const recordingTracer = {
  startSpan(
    name: string,
    options: { links?: { context: { traceId: string; spanId: string } }[]; root?: boolean },
    ctx?: Context,
  ): Span {
    const parent = options.root || !ctx ? undefined : trace.getSpanContext(ctx);
    const id = nextId++;
    const traceId = parent?.traceId ?? hex(id, 32);
    started.push({
      name,
      parent: parent?.spanId,
      links: (options.links ?? []).map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
      root: options.root ?? false,
      traceId,
    });
    return trace.wrapSpanContext({ traceId, spanId: hex(id, 16), traceFlags: 1 });
  },
};

const servers: Http2Server[] = [];
const seenIds: string[] = [];

async function serve(trustCallerContext: boolean) {
  const server = createHttp2Server(
    connectNodeAdapter({
      interceptors: [createServerTracingInterceptor({ trustCallerContext })],
      routes: (router) =>
        serviceRegistration(TaskService, {
          getTask(_req, ctx) {
            seenIds.push(ctx.values.get(requestIdKey));
            return {};
          },
        }).register(router),
    }),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let edge: string;
let internal: string;

beforeAll(async () => {
  await startTracing('gateway-edge-tracing-test', {});
  trace.setGlobalTracerProvider({ getTracer: () => recordingTracer as never });
  edge = await serve(false);
  internal = await serve(true);
});

afterAll(async () => {
  for (const s of servers) await new Promise((resolve) => s.close(resolve));
});

const callerTrace = '0af7651916cd43dd8448eb211c80319c';
const callerSpan = 'b7ad6b7169203331';

// One GetTask with these headers; answers the x-request-id the server sent back.
async function call(address: string, headers: Record<string, string>) {
  const interceptors: Interceptor[] = [
    (next) => (req) => {
      for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
      return next(req);
    },
  ];
  let answered: string | null = null;
  started.length = 0;
  // A public caller's own gRPC client (connect-node), which sends what grpc-js would refuse to
  // (a header value outside ASCII): the edge must cope with whatever arrives.
  const transport = createGrpcTransport({ baseUrl: `http://${address}`, interceptors });
  await createClient(TaskService, transport).getTask(
    { taskId: 't' },
    { onHeader: (h) => (answered = h.get('x-request-id')) },
  );
  return answered;
}

test("the edge starts its own trace, linked to the caller's span, never continuing it", async () => {
  const headers = { traceparent: `00-${callerTrace}-${callerSpan}-01` };
  await call(edge, headers);
  const span = started.find((s) => s.name === 'toolmesh.v1.TaskService/GetTask');
  expect(span).toMatchObject({
    root: true,
    parent: undefined,
    links: [{ traceId: callerTrace, spanId: callerSpan }],
  });
  expect(span?.traceId).not.toBe(callerTrace);

  // An internal server (the default) continues the caller's trace.
  await call(internal, headers);
  const inner = started.find((s) => s.name === 'toolmesh.v1.TaskService/GetTask');
  expect(inner).toMatchObject({ parent: callerSpan, traceId: callerTrace, links: [] });
});

test('the edge keeps a caller x-request-id only of a strict form, else makes its own', async () => {
  const good = 'req-2026.06.01:abc_DEF';
  expect(await call(edge, { 'x-request-id': good })).toBe(good);
  expect(seenIds.at(-1)).toBe(good);
  for (const bad of ['a'.repeat(65), 'has space', 'quote"d', '{"json":1}', 'semi;colon', 'ünï']) {
    const answered = await call(edge, { 'x-request-id': bad });
    expect(answered).not.toBe(bad);
    expect(answered).toMatch(/^[0-9a-f-]{36}$/);
    expect(seenIds.at(-1)).toBe(answered);
  }
  // Internal servers keep the looser rule of the mesh (printable, up to 128).
  expect(await call(internal, { 'x-request-id': 'quote"d' })).toBe('quote"d');
});
