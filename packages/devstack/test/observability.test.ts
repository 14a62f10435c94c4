// Metrics, traces and logs of the whole mesh: every service a real process, one chat
// through it, then every /metrics endpoint scraped and the chat's trace read back from an
// in-test OTLP/HTTP (JSON) receiver.
import { createClient } from '@connectrpc/connect';
import { ChatService } from '@toolmesh/proto';
import { createTestDatabase, type TestDatabase, waitFor } from '@toolmesh/testkit';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlp-receiver.ts';

let db: TestDatabase;
let mesh: Mesh;
let receiver: OtlpReceiver;
const lines: { service: string; line: string }[] = [];

const seedQuestion = 'Where is my order 202604100018? I also need an invoice for it.';
const requestId = `observability-${Date.now()}`;
let responseRequestId: string | null = null;

beforeAll(async () => {
  db = await createTestDatabase();
  receiver = await startOtlpReceiver();
  const ports = await freeMeshPorts();
  mesh = await startMesh({
    ports,
    databaseUrl: db.url,
    env: {
      LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    },
    // Debug lines of the order service are written inside the InvokeTool call.
    serviceEnv: { order: { LOG_LEVEL: 'debug' } },
    onLine: (service, line) => lines.push({ service, line }),
  });

  const client = createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));
  const res = await client.chat(
    { message: seedQuestion },
    {
      headers: { 'x-request-id': requestId },
      onHeader: (headers) => {
        responseRequestId = headers.get('x-request-id');
      },
    },
  );
  expect(res.toolExecutions.find((e) => e.toolName === 'get_order_detail')?.success).toBe(true);
  // One refused call, to see a non-OK code in the metrics.
  await createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'not-a-key'))
    .chat({ message: 'hi' })
    .catch(() => {});
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await receiver?.close();
  await db?.drop();
}, 60_000);

// One sample of a Prometheus text exposition whose labels include `labels`.
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(service: string): Promise<string> {
  const url = mesh.metricsUrls[service];
  if (!url) throw new Error(`no /metrics for ${service}`);
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

const unary = (service: string, method: string) => ({
  grpc_type: 'unary',
  grpc_service: service,
  grpc_method: method,
});

test('every service serves /metrics with gRPC, process and its own series', async () => {
  const gateway = await scrape('gateway');
  expect(sample(gateway, 'grpc_server_started_total', unary('toolmesh.v1.ChatService', 'Chat'))).toBe(2);
  expect(
    sample(gateway, 'grpc_server_handled_total', {
      ...unary('toolmesh.v1.ChatService', 'Chat'),
      grpc_code: 'OK',
    }),
  ).toBe(1);
  expect(
    sample(gateway, 'grpc_server_handled_total', {
      ...unary('toolmesh.v1.ChatService', 'Chat'),
      grpc_code: 'Unauthenticated',
    }),
  ).toBe(1);
  expect(sample(gateway, 'grpc_server_msg_received_total', unary('toolmesh.v1.ChatService', 'Chat'))).toBe(2);
  expect(sample(gateway, 'grpc_server_msg_sent_total', unary('toolmesh.v1.ChatService', 'Chat'))).toBe(1);
  expect(
    sample(gateway, 'grpc_server_handling_seconds_count', unary('toolmesh.v1.ChatService', 'Chat')),
  ).toBe(2);
  // The gateway forwards the verified call as it came (ChatService/Chat) to the orchestrator.
  expect(
    sample(gateway, 'grpc_client_handled_total', {
      ...unary('toolmesh.v1.ChatService', 'Chat'),
      grpc_code: 'OK',
    }),
  ).toBe(1);
  expect(sample(gateway, 'grpc_client_started_total', unary('toolmesh.v1.ChatService', 'Chat'))).toBe(1);
  expect(
    sample(gateway, 'grpc_client_handling_seconds_bucket', {
      ...unary('toolmesh.v1.ChatService', 'Chat'),
      le: '+Inf',
    }),
  ).toBe(1);

  const orchestrator = await scrape('orchestrator');
  expect(
    sample(orchestrator, 'grpc_server_handled_total', {
      ...unary('toolmesh.v1.ChatService', 'Chat'),
      grpc_code: 'OK',
    }),
  ).toBe(1);
  expect(
    sample(orchestrator, 'toolmesh_tool_executions_total', { tool: 'get_order_detail', outcome: 'success' }),
  ).toBe(1);
  expect(
    sample(orchestrator, 'toolmesh_tool_execution_duration_seconds_count', { tool: 'get_order_detail' }),
  ).toBe(1);
  expect(sample(orchestrator, 'toolmesh_tool_cache_misses_total', { tool: 'get_order_detail' })).toBe(1);
  expect(sample(orchestrator, 'toolmesh_approvals_requested_total', { tool: 'create_ticket' })).toBe(1);
  // Tool calls as gRPC client series, and each endpoint's breaker (0 = closed).
  expect(
    sample(orchestrator, 'grpc_client_handled_total', {
      ...unary('toolmesh.v1.ToolService', 'InvokeTool'),
      grpc_code: 'OK',
    }),
  ).toBe(3);
  const orderEndpoint = mesh.grpcAddresses.order;
  expect(sample(orchestrator, 'toolmesh_tool_breaker_state', { endpoint: orderEndpoint })).toBe(0);
  expect(sample(orchestrator, 'toolmesh_tool_breaker_trips_total', { endpoint: orderEndpoint })).toBe(0);
  const model = {
    gen_ai_operation_name: 'chat',
    gen_ai_provider_name: 'openai',
    gen_ai_request_model: 'toolmesh-scripted',
  };
  expect(
    sample(orchestrator, 'gen_ai_client_token_usage_count', { ...model, gen_ai_token_type: 'input' }),
  ).toBeGreaterThanOrEqual(2);
  expect(
    sample(orchestrator, 'gen_ai_client_token_usage_sum', { ...model, gen_ai_token_type: 'output' }),
  ).toBeGreaterThan(0);
  expect(
    sample(orchestrator, 'gen_ai_client_operation_duration_seconds_count', model),
  ).toBeGreaterThanOrEqual(2);

  for (const [service, tool] of [
    ['order', 'get_order_detail'],
    ['inventory', 'get_inventory_snapshot'],
    ['dispatch', 'get_dispatch_plan'],
  ] as const) {
    const text = await scrape(service);
    expect([
      tool,
      sample(text, 'grpc_server_handled_total', {
        ...unary('toolmesh.v1.ToolService', 'InvokeTool'),
        grpc_code: 'OK',
      }),
    ]).toEqual([tool, 1]);
  }
  const ticket = await scrape('ticket');
  // The write waits for approval: the ticket service was only asked for its tools.
  expect(
    sample(ticket, 'grpc_server_handled_total', {
      ...unary('toolmesh.v1.ToolService', 'ListTools'),
      grpc_code: 'OK',
    }),
  ).toBeGreaterThanOrEqual(1);
  expect(sample(ticket, 'grpc_server_handled_total', unary('toolmesh.v1.ToolService', 'InvokeTool'))).toBe(
    undefined,
  );

  for (const service of ['gateway', 'orchestrator', 'order', 'inventory', 'dispatch', 'ticket']) {
    const text =
      service === 'gateway' ? gateway : service === 'orchestrator' ? orchestrator : await scrape(service);
    expect([service, sample(text, 'process_cpu_user_seconds_total')]).toEqual([service, expect.any(Number)]);
    expect([service, sample(text, 'nodejs_eventloop_lag_p99_seconds')]).toEqual([
      service,
      expect.any(Number),
    ]);
  }
});

// The seeded chat's trace, once its spans down to the order service's SQL have been exported.
function chatTrace(): Promise<ReceivedSpan[]> {
  const trace = () => {
    const spans = receiver.spans();
    const root = spans.find(
      (s) => s.service === 'gateway' && s.name === 'toolmesh.v1.ChatService/Chat' && s.kind === 2,
    );
    return root ? spans.filter((s) => s.traceId === root.traceId) : [];
  };
  return waitFor(
    () => {
      const spans = trace();
      return spans.some((s) => s.service === 'order' && s.attributes['db.system.name'] === 'postgresql')
        ? spans
        : undefined;
    },
    { what: 'the chat trace to reach the order service SQL spans', intervalMs: 100 },
  ).catch((error: Error) => {
    throw new Error(`${error.message}; trace so far: ${trace().map((s) => `${s.service} ${s.name}`)}`);
  });
}

test('one chat is one trace across gateway, orchestrator, model, tool service and SQL', async () => {
  const trace = await chatTrace();
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const one = (service: string, name: string, kind?: number) => {
    const found = trace.filter(
      (s) => s.service === service && s.name === name && (kind === undefined || s.kind === kind),
    );
    expect([service, name, kind, found.length]).toEqual([service, name, kind, 1]);
    return found[0] as ReceivedSpan;
  };
  const ancestors = (span: ReceivedSpan) => {
    const out: ReceivedSpan[] = [];
    for (let s = byId.get(span.parentSpanId); s; s = byId.get(s.parentSpanId)) out.push(s);
    return out;
  };

  // The gateway's server span is the root; spans are SERVER 2, CLIENT 3, INTERNAL 1.
  // The gateway forwards the call unchanged: its client span and the orchestrator's server span
  // carry the same name as the root.
  const root = one('gateway', 'toolmesh.v1.ChatService/Chat', 2);
  expect(root.parentSpanId).toBe('');
  const forward = one('gateway', 'toolmesh.v1.ChatService/Chat', 3);
  expect(forward.parentSpanId).toBe(root.spanId);
  const runChat = one('orchestrator', 'toolmesh.v1.ChatService/Chat');
  expect([runChat.kind, runChat.parentSpanId]).toEqual([2, forward.spanId]);

  const modelCalls = trace.filter((s) => s.service === 'orchestrator' && s.name === 'chat toolmesh-scripted');
  expect(modelCalls.length).toBeGreaterThanOrEqual(2);
  for (const call of modelCalls) {
    expect(call.kind).toBe(3);
    expect(call.parentSpanId).toBe(runChat.spanId);
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'toolmesh-scripted',
      'gen_ai.usage.input_tokens': expect.any(Number),
      'gen_ai.usage.output_tokens': expect.any(Number),
    });
  }

  const execute = one('orchestrator', 'execute_tool get_order_detail');
  expect(execute.parentSpanId).toBe(runChat.spanId);
  expect(execute.attributes).toMatchObject({
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': 'get_order_detail',
    'gen_ai.tool.call.id': expect.stringMatching(/.+/),
  });
  const invoke = trace.find(
    (s) => s.service === 'order' && s.name === 'toolmesh.v1.ToolService/InvokeTool' && s.kind === 2,
  );
  expect(invoke).toBeDefined();
  expect(ancestors(invoke as ReceivedSpan).map((s) => s.spanId)).toContain(execute.spanId);
  const sql = trace.find((s) => s.service === 'order' && s.name === 'SELECT orders.orders');
  expect(sql?.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.operation.name': 'SELECT' });
  expect(sql?.parentSpanId).toBe(invoke?.spanId);
  // The orchestrator's own SQL (ledger, conversation) is in the trace too, a statement
  // with common table expressions named after its main statement.
  expect(
    trace.some((s) => s.service === 'orchestrator' && s.attributes['db.system.name'] === 'postgresql'),
  ).toBe(true);
  expect(trace.some((s) => s.service === 'orchestrator' && s.name === 'INSERT orchestrator.audit_log')).toBe(
    true,
  );
  for (const service of ['inventory', 'dispatch']) {
    expect(trace.some((s) => s.service === service && s.name === 'toolmesh.v1.ToolService/InvokeTool')).toBe(
      true,
    );
  }

  // No message, argument, result or secret in any span.
  const everything = JSON.stringify(trace);
  for (const secret of [
    'Where is my order',
    '202604100018',
    'SF1234567890',
    'Shanghai-DC-03',
    'dev-key-u1001',
  ]) {
    expect([secret, everything.includes(secret)]).toEqual([secret, false]);
  }
});

test('logs carry the request id from the caller and the trace of the call', async () => {
  expect(responseRequestId).toBe(requestId);
  const root = (await chatTrace()).find((s) => s.name === 'toolmesh.v1.ChatService/Chat');
  const executed = lines
    .filter((l) => l.service === 'order')
    .flatMap((l) => {
      try {
        return [JSON.parse(l.line) as Record<string, unknown>];
      } catch {
        return [];
      }
    })
    .find((l) => l.msg === 'tool executed' && l.tool === 'get_order_detail');
  expect(executed).toMatchObject({
    service: 'order',
    request_id: requestId,
    trace_id: root?.traceId,
    span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
  });
});
