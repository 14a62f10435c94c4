// /metrics on its own port, and log lines that carry the request id and trace of the call.
import { Writable } from 'node:stream';
import {
  Counter,
  context,
  contextWithRequestId,
  createLogger,
  ROOT_CONTEXT,
  startTelemetry,
  type Telemetry,
  trace,
} from '../src/index.ts';

let telemetry: Telemetry;

beforeAll(async () => {
  telemetry = await startTelemetry({ service: 'telemetry-test', metricsPort: 0 });
});

afterAll(async () => {
  await telemetry.shutdown();
});

test('/metrics serves the process registry in the Prometheus text format, nothing else', async () => {
  new Counter({ name: 'test_things_total', help: 'Things.', registers: [telemetry.metrics] }).inc(3);
  const base = `http://127.0.0.1:${telemetry.metricsPort}`;
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  const text = await res.text();
  expect(text).toContain('test_things_total 3');
  expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  expect(text).toMatch(/^nodejs_eventloop_lag_p99_seconds \d/m);
  expect((await fetch(`${base}/`)).status).toBe(404);
  expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(404);
});

test('without exporting, tracing records nothing', () => {
  expect(telemetry.tracing).toBe(false);
  expect(trace.getTracer('x').startSpan('s').isRecording()).toBe(false);
});

test('log lines carry the request id and the active trace, masked as before', () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    service: 'telemetry-test',
    destination: new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        cb();
      },
    }),
  });
  const spanContext = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  };
  const ctx = trace.setSpanContext(contextWithRequestId(ROOT_CONTEXT, 'req-1'), spanContext);
  context.with(ctx, () => logger.info({ password: 'hunter2' }, 'inside'));
  logger.info('outside');
  expect(lines[0]).toMatchObject({
    msg: 'inside',
    request_id: 'req-1',
    trace_id: spanContext.traceId,
    span_id: spanContext.spanId,
    password: '***',
  });
  expect(lines[1]).not.toHaveProperty('request_id');
  expect(lines[1]).not.toHaveProperty('trace_id');
});
