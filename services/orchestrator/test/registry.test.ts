// The registry's safety rules, in process: replicas of a tool that disagree on side
// effect or permission make the tool refused (a write is never treated as a read), and
// the registry view shows where tools run only to operators.
import { create } from '@bufbuild/protobuf';
import { createManualClock } from '@toolmesh/clock';
import { SideEffect, ToolDefinitionSchema } from '@toolmesh/proto';
import { createCircuitBreaker } from '@toolmesh/resilience';
import type { Logger } from '@toolmesh/telemetry';
import { createValidatorCache } from '../src/tools/argument-validator.ts';
import { describeRegistry, type ToolEndpoint, type ToolRegistry } from '../src/tools/index.ts';
import { mergePublished } from '../src/tools/merge-published.ts';
import { registryAdminPermission } from '../src/tools/registry-view.ts';
import { toolIndex } from '../src/tools/tool-index.ts';
import { mergeReplicas } from '../src/tools/tool-registry.ts';
import { principal } from './support/test-engine.ts';

function endpoint(address: string): ToolEndpoint {
  const breaker = createCircuitBreaker({
    failureThreshold: 5,
    halfOpenAfterMs: 5_000,
    clock: createManualClock(),
  });
  return {
    address,
    client: {} as ToolEndpoint['client'],
    breaker,
    available: () => true,
    retryAfterMs: () => 0,
    state: () => breaker.state(),
  };
}

const tool = (name: string, sideEffect: SideEffect, permission: string) =>
  create(ToolDefinitionSchema, {
    name,
    description: name,
    inputSchemaJson: '{"type":"object"}',
    metadata: { sideEffect, permission },
  });

function recordingLogger() {
  const errors: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = {
    error: (fields: Record<string, unknown>, message: string) => errors.push({ fields, message }),
    warn: () => {},
    info: () => {},
    debug: () => {},
  } as unknown as Logger;
  return { logger, errors };
}

test('replicas that agree serve one tool together', () => {
  const { logger, errors } = recordingLogger();
  const merged = mergeReplicas(
    [
      { endpoint: endpoint('a:1'), tools: [tool('create_ticket', SideEffect.WRITE, 'ticket:write')] },
      { endpoint: endpoint('b:1'), tools: [tool('create_ticket', SideEffect.WRITE, 'ticket:write')] },
    ],
    logger,
  );
  expect(merged.get('create_ticket')?.endpoints.map((e) => e.address)).toEqual(['a:1', 'b:1']);
  expect(errors).toEqual([]);
});

test.each([
  ['side effect', tool('create_ticket', SideEffect.READ, 'ticket:write')],
  ['permission', tool('create_ticket', SideEffect.WRITE, 'ticket:read')],
])(
  'replicas that disagree on %s make the tool refused, whatever the order; an error is logged',
  (_what, odd) => {
    const honest = tool('create_ticket', SideEffect.WRITE, 'ticket:write');
    const other = tool('list_tickets', SideEffect.READ, 'ticket:read');
    for (const order of [
      [honest, odd],
      [odd, honest],
    ]) {
      const { logger, errors } = recordingLogger();
      const merged = mergeReplicas(
        [
          { endpoint: endpoint('a:1'), tools: [order[0] ?? honest, other] },
          { endpoint: endpoint('b:1'), tools: [order[1] ?? honest] },
          // A third replica agreeing with either side does not bring the tool back.
          { endpoint: endpoint('c:1'), tools: [honest] },
        ],
        logger,
      );
      expect(merged.has('create_ticket')).toBe(false);
      expect(merged.get('list_tickets')?.endpoints.map((e) => e.address)).toEqual(['a:1']);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.fields).toMatchObject({ tool: 'create_ticket', addresses: ['a:1', 'b:1'] });
    }
  },
);

test(`endpoint addresses and breaker states are shown only to holders of ${registryAdminPermission}`, () => {
  const read = tool('get_order_detail', SideEffect.READ, 'order:read');
  const ep = endpoint('10.0.0.7:50061');
  const registry: ToolRegistry = {
    discovery: 'static',
    get: () => undefined,
    list: () => [{ definition: read, parameters: {}, validate: () => undefined, endpoints: [ep] }],
    endpoints: () => [{ endpoint: ep, tools: [read] }],
    refresh: async () => {},
    start: async () => {},
    stop: async () => {},
  };
  const user = describeRegistry(registry, principal('u_1001', ['order:read', 'audit:read']));
  expect(user.tools.map((t) => [t.definition?.name, t.addresses, t.permitted, t.available])).toEqual([
    ['get_order_detail', [], true, true],
  ]);
  expect(user.endpoints).toEqual([]);
  expect(JSON.stringify(user.tools)).not.toContain('10.0.0.7');

  const operator = describeRegistry(registry, principal('op_1', [registryAdminPermission]));
  expect(operator.tools[0]?.addresses).toEqual(['10.0.0.7:50061']);
  expect(operator.tools[0]?.permitted).toBe(false);
  expect(operator.endpoints.map((e) => [e.address, e.reachable, e.tools])).toEqual([
    ['10.0.0.7:50061', true, ['get_order_detail']],
  ]);
});

test('a schema the validator refuses refuses that tool only; schemas with an $id survive every rebuild', () => {
  const withSchema = (name: string, schema: unknown) =>
    create(ToolDefinitionSchema, {
      name,
      description: name,
      inputSchemaJson: JSON.stringify(schema),
      metadata: { sideEffect: SideEffect.READ, permission: 'order:read' },
    });
  const identified = { $id: 'https://tools.example/order-args', type: 'object', required: ['order_id'] };
  const published = [
    {
      endpoint: endpoint('a:1'),
      tools: [
        withSchema('get_order_detail', identified),
        // Another tool with the same $id: ajv would keep both under one key and refuse the second.
        withSchema('get_order_items', identified),
        withSchema('broken', { type: 'object', properties: { a: { type: 'no-such-type' } } }),
      ],
    },
  ];
  const { logger } = recordingLogger();
  const validators = createValidatorCache();
  const first = mergePublished(published, logger, undefined, validators);
  validators.sweep();
  expect(first.refused.map((r) => [r.name, r.reason])).toEqual([['broken', 'invalid JSON Schema']]);
  // The registry rebuilds at every refresh: nothing is compiled again, nothing is refused.
  const again = mergePublished(published, logger, undefined, validators);
  validators.sweep();
  expect([...again.byName.keys()].sort()).toEqual(['get_order_detail', 'get_order_items']);
  expect(again.byName.get('get_order_detail')?.validate).toBe(first.byName.get('get_order_detail')?.validate);
  expect(again.byName.get('get_order_items')?.validate({})).toMatch(/order_id/);
  expect(again.byName.get('get_order_items')?.validate({ order_id: '1' })).toBeUndefined();
  // Without a cache (every schema compiled afresh), an $id is no obstacle either.
  expect([...mergePublished(published, logger).byName.keys()]).toHaveLength(2);
});

test('selection indexes tools of one version; only a tool serving several versions is resolved per conversation', () => {
  const { logger } = recordingLogger();
  const versioned = (version: string) =>
    create(ToolDefinitionSchema, { ...tool('get_b', SideEffect.READ, 'x:read'), version });
  const merged = mergeReplicas(
    [
      { endpoint: endpoint('a:1'), tools: [tool('get_a', SideEffect.READ, 'x:read'), versioned('1')] },
      { endpoint: endpoint('b:1'), tools: [versioned('2')] },
    ],
    logger,
  );
  const list = Object.freeze([...merged.values()]);
  expect(list.map((t) => [t.definition.name, t.rollout?.length])).toEqual([
    ['get_a', 1],
    ['get_b', 2],
  ]);
  expect(toolIndex(list).rollouts).toEqual([1]);
});
