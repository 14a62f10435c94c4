// A tool endpoint's circuit breaker on a manual clock, through the real InvokeTool path:
// refusals without calling the tool, the retry hint, the registry view and the metrics,
// one trial once the wait is over. The tool service is a real server on 127.0.0.1.
import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { createManualClock } from '@toolmesh/clock';
import { BreakerState, PrincipalSchema, ToolDefinitionSchema, ToolService } from '@toolmesh/proto';
import { createRetryBudget, createServer, type Server, serviceRegistration } from '@toolmesh/rpc';
import { createLogger, createMetricsRegistry } from '@toolmesh/telemetry';
import { freePort, waitFor } from '@toolmesh/testkit';
import { createOrchestratorMetrics } from '../src/observe/index.ts';
import {
  compileArgumentValidator,
  describeRegistry,
  type RegisteredTool,
  type ToolRegistry,
} from '../src/tools/index.ts';
import { invokeTool } from '../src/tools/invoke-tool.ts';
import { createToolEndpoint } from '../src/tools/tool-endpoint.ts';
import { testToolCredentials } from './support/test-credentials.ts';

const logger = createLogger({ service: 'test', level: 'silent' });
const principal = create(PrincipalSchema, { userId: 'u_1', tenantId: 't_1', permissions: [] });
// Breaker states and addresses are for operators.
const operator = create(PrincipalSchema, {
  userId: 'op_1',
  tenantId: 't_1',
  permissions: ['registry:admin'],
});

/** A ToolService whose one tool answers "pong", or holds each call until released. */
async function startToolService(port: number) {
  const state = { calls: 0, hold: false };
  const held: (() => void)[] = [];
  const server: Server = createServer({
    logger,
    services: [
      serviceRegistration(ToolService, {
        listTools: () => ({ tools: [] }),
        async invokeTool(_req, ctx) {
          state.calls++;
          if (state.hold) {
            // Held until released; a call its client cancelled ends with its stream.
            await new Promise<void>((resolve, reject) => {
              held.push(resolve);
              ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
            });
          }
          return { outcome: { case: 'resultJson', value: '"pong"' } };
        },
      }),
    ],
  });
  await server.listen(port);
  return { state, held, server };
}

async function world() {
  const port = await freePort();
  const clock = createManualClock();
  const metrics = createOrchestratorMetrics(createMetricsRegistry({ processMetrics: false }));
  const changes: string[] = [];
  const endpoint = createToolEndpoint(
    `127.0.0.1:${port}`,
    { failureThreshold: 2, halfOpenAfterMs: 5_000 },
    logger,
    {
      onBreakerChange: (address, state) => {
        changes.push(state);
        metrics.breakerStateChanged(address, state);
      },
    },
    clock,
  );
  const tool: RegisteredTool = {
    definition: create(ToolDefinitionSchema, {
      name: 'ping',
      description: 'Ping.',
      inputSchemaJson: '{}',
      metadata: { idempotent: true, timeout: durationFromMs(5_000) },
    }),
    parameters: {},
    validate: compileArgumentValidator({}),
    endpoints: [endpoint],
  };
  const registry: ToolRegistry = {
    discovery: 'static',
    get: () => tool,
    list: () => [tool],
    endpoints: () => [{ endpoint, tools: [tool.definition] }],
    refresh: async () => {},
    start: async () => {},
    stop: async () => {},
  };
  const deps = {
    logger,
    retryBudget: createRetryBudget({ clock }),
    maxAttempts: 1,
    credentials: testToolCredentials(),
  };
  const call = (signal = new AbortController().signal) =>
    invokeTool(
      { tool, toolCallId: 'c1', argumentsJson: '{}', idempotencyKey: '', principal, requestId: 'r1', signal },
      deps,
    );
  const view = () => describeRegistry(registry, operator);
  const gauge = async (name: string) =>
    (await metrics.registry.getSingleMetric(name)?.get())?.values.find(
      (v) => v.labels.endpoint === endpoint.address,
    )?.value;
  return { port, clock, endpoint, changes, call, view, gauge };
}

test('an endpoint that is down opens its breaker: refused without calling, with a retry hint; one trial closes it', async () => {
  const w = await world();
  expect(w.changes).toEqual(['closed']);
  for (let i = 0; i < 2; i++) {
    const failed = await w.call();
    expect(failed).toMatchObject({ success: false, errorCode: 'UNAVAILABLE', attempts: 1 });
  }
  expect(w.endpoint.state()).toBe('open');
  expect(w.changes).toEqual(['closed', 'open']);
  expect(await w.gauge('toolmesh_tool_breaker_state')).toBe(2);
  expect(await w.gauge('toolmesh_tool_breaker_trips_total')).toBe(1);

  // Open: answered at once, no InvokeTool made, with when to try again.
  const refused = await w.call();
  expect(refused).toMatchObject({ success: false, errorCode: 'UNAVAILABLE', attempts: 0 });
  expect(refused.errorMessage).toBe('ping is unavailable; retry after 5 s');
  const open = w.view();
  expect(open.endpoints[0]?.breakerState).toBe(BreakerState.OPEN);
  expect(open.endpoints[0]?.retryAfter?.seconds).toBe(5n);
  expect(open.tools[0]?.available).toBe(false);

  // The service is back, but the breaker waits its time: nothing reaches it.
  const service = await startToolService(w.port);
  try {
    await w.clock.advance(3_000);
    expect((await w.call()).errorMessage).toBe('ping is unavailable; retry after 2 s');
    expect(w.view().endpoints[0]?.retryAfter?.seconds).toBe(2n);
    await w.clock.advance(1_999);
    expect(w.endpoint.available()).toBe(false);
    expect(service.state.calls).toBe(0);

    // The wait is over: offered again, still open until the one trial call, which closes it.
    await w.clock.advance(1);
    expect(w.view().tools[0]?.available).toBe(true);
    expect(w.view().endpoints[0]?.breakerState).toBe(BreakerState.OPEN);
    expect(await w.call()).toMatchObject({ success: true, content: '"pong"', attempts: 1 });
    expect(service.state.calls).toBe(1);
    expect(w.changes).toEqual(['closed', 'open', 'half-open', 'closed']);
    expect(w.view().endpoints[0]?.breakerState).toBe(BreakerState.CLOSED);
    expect(await w.gauge('toolmesh_tool_breaker_state')).toBe(0);
    expect(await w.gauge('toolmesh_tool_breaker_trips_total')).toBe(1);
  } finally {
    await service.server.shutdown(100);
  }
});

test('calls their caller cancelled never open the breaker', async () => {
  const w = await world();
  const service = await startToolService(w.port);
  service.state.hold = true;
  try {
    for (let i = 0; i < 4; i++) {
      const abort = new AbortController();
      const call = w.call(abort.signal);
      await waitFor(() => service.state.calls === i + 1, { what: 'the call to reach the tool' });
      abort.abort(new DOMException('cancelled', 'AbortError'));
      await expect(call).rejects.toBeDefined();
    }
    expect(w.endpoint.state()).toBe('closed');
    expect(w.changes).toEqual(['closed']);
    service.state.hold = false;
    expect(await w.call()).toMatchObject({ success: true, attempts: 1 });
  } finally {
    for (const release of service.held) release();
    await service.server.shutdown(100);
  }
});
