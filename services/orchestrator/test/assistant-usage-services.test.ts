// AssistantService and UsageService served in process behind the error boundary: a tenant sees
// only the assistants it may use (never instructions or backends); usage needs usage:read, is
// scoped to the caller's tenant unless usage:read:all-tenants, and its range is checked.
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import { AssistantService, type Principal, PrincipalSchema, UsageService } from '@toolmesh/proto';
import { createErrorBoundary, type HandlerContext, publicError } from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createAssistantService } from '../src/assistant-service.ts';
import type { AssistantCatalog, AssistantVariant } from '../src/assistants/assistant-catalog.ts';
import { createUsageService, type UsageQuery, usageReadAllTenantsPermission } from '../src/usage-service.ts';

const who = (userId: string, tenantId: string, permissions: string[] = []) =>
  create(PrincipalSchema, { userId, tenantId, permissions });
const callers: Record<string, Principal> = {
  demoUser: who('u_1001', 't_demo'),
  acmeUser: who('u_7', 't_acme'),
  demoOperator: who('op_1', 't_demo', ['usage:read']),
  everyTenant: who('op_0', 't_ops', ['usage:read', usageReadAllTenantsPermission]),
  allTenantsOnly: who('op_x', 't_ops', [usageReadAllTenantsPermission]),
};
const principalOf = (ctx: HandlerContext) => {
  const principal = callers[ctx.requestHeader.get('x-test-caller') ?? ''];
  if (!principal) throw publicError(Code.Unauthenticated, 'no verified principal');
  return principal;
};
const boundary = {
  router: {
    interceptors: [createErrorBoundary({ logger: createLogger({ service: 't', level: 'silent' }) })],
  },
};
const as = (caller: string) => ({ headers: { 'x-test-caller': caller } });
const codeOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 'answered',
    (e: unknown) => (e instanceof ConnectError ? Code[e.code] : 'thrown'),
  );

const variant = (name: string, weight: number, models: string[], tools?: string[]): AssistantVariant => ({
  name,
  weight,
  models,
  instructions: `SECRET instructions of ${name}`,
  ...(tools ? { tools } : {}),
  limits: {},
});
const catalog: AssistantCatalog = {
  assistants: new Map([
    [
      'shop-support',
      {
        name: 'shop-support',
        description: 'The demo shop',
        variants: [variant('v1', 90, ['primary', 'backup'], ['get_*']), variant('v2', 10, ['small'])],
      },
    ],
    ['acme-only', { name: 'acme-only', tenants: ['t_acme'], variants: [variant('default', 1, ['primary'])] }],
  ]),
  defaultAssistant: 'shop-support',
  models: new Map([
    ['primary', { name: 'primary', baseURL: 'http://model.internal', apiKey: 'SECRET-KEY', model: 'm' }],
  ]),
  tenants: new Map([['t_acme', { defaultAssistant: 'acme-only' }]]),
};

const assistants = createClient(
  AssistantService,
  createRouterTransport(
    (router) =>
      createAssistantService({ assistants: { current: () => catalog }, principalOf }).register(router),
    boundary,
  ),
);

test('a tenant lists the assistants it may use, with tools, models and variants, and its default', async () => {
  const demo = await assistants.listAssistants({}, as('demoUser'));
  expect(demo.defaultAssistant).toBe('shop-support');
  expect(demo.assistants).toHaveLength(1);
  expect(demo.assistants[0]).toMatchObject({
    name: 'shop-support',
    description: 'The demo shop',
    tools: ['get_*'],
    models: ['primary', 'backup'],
    variants: [
      { name: 'v1', weight: 90, models: ['primary', 'backup'] },
      { name: 'v2', weight: 10, models: ['small'] },
    ],
  });
  const acme = await assistants.listAssistants({}, as('acmeUser'));
  expect(acme.defaultAssistant).toBe('acme-only');
  expect(acme.assistants.map((a) => a.name).sort()).toEqual(['acme-only', 'shop-support']);
  // Nothing of the instructions or the backends' addresses and keys leaves the orchestrator.
  const text = JSON.stringify([demo, acme], (_k, v) => (typeof v === 'bigint' ? String(v) : v));
  expect(text).not.toMatch(/SECRET|model\.internal/);
  expect(await codeOf(assistants.listAssistants({}, as('nobody')))).toBe('Unauthenticated');
});

const queries: UsageQuery[] = [];
const clock = createManualClock({ start: Date.parse('2026-12-01T12:00:00Z') });
const usage = createClient(
  UsageService,
  createRouterTransport(
    (router) =>
      createUsageService({
        clock,
        principalOf,
        usage: {
          async summarize(query) {
            queries.push(query);
            return [
              {
                tenantId: query.tenantId ?? 't_demo',
                assistant: 'shop-support',
                variant: 'v1',
                model: 'm',
                turns: 3,
                conversations: 2,
                promptTokens: 100,
                completionTokens: 20,
                totalTokens: 120,
              },
            ];
          },
        },
      }).register(router),
    boundary,
  ),
);
const day = 24 * 60 * 60 * 1000;
const at = (iso: string) => timestampFromDate(new Date(iso));

test("usage: the last 24 hours of the caller's tenant by default, with the counts as given", async () => {
  queries.length = 0;
  const res = await usage.getUsage({ assistant: 'shop-support' }, as('demoOperator'));
  expect(res.rows).toEqual([
    expect.objectContaining({
      tenantId: 't_demo',
      assistant: 'shop-support',
      variant: 'v1',
      model: 'm',
      turns: 3n,
      conversations: 2n,
      promptTokens: 100n,
      completionTokens: 20n,
      totalTokens: 120n,
    }),
  ]);
  expect(queries).toEqual([
    {
      from: new Date(clock.now() - day),
      to: new Date(clock.now()),
      tenantId: 't_demo',
      assistant: 'shop-support',
    },
  ]);
});

test('usage needs usage:read; another tenant needs usage:read:all-tenants', async () => {
  queries.length = 0;
  expect(await codeOf(usage.getUsage({}, as('demoUser')))).toBe('PermissionDenied');
  expect(await codeOf(usage.getUsage({}, as('allTenantsOnly')))).toBe('PermissionDenied');
  expect(await codeOf(usage.getUsage({ tenantId: 't_acme' }, as('demoOperator')))).toBe('PermissionDenied');
  expect(queries).toEqual([]);
  // The own tenant named explicitly is fine.
  expect(await codeOf(usage.getUsage({ tenantId: 't_demo' }, as('demoOperator')))).toBe('answered');
  // An all-tenants operator reads one tenant, or all of them with no filter.
  await usage.getUsage({ tenantId: 't_acme' }, as('everyTenant'));
  await usage.getUsage({}, as('everyTenant'));
  expect(queries.map((q) => q.tenantId)).toEqual(['t_demo', 't_acme', undefined]);
});

test('usage ranges: to after from, at most 93 days, else INVALID_ARGUMENT', async () => {
  queries.length = 0;
  const read = (from?: string, to?: string) =>
    codeOf(
      usage.getUsage({ from: from ? at(from) : undefined, to: to ? at(to) : undefined }, as('demoOperator')),
    );
  expect(await read('2026-11-02T00:00:00Z', '2026-11-01T00:00:00Z')).toBe('InvalidArgument');
  expect(await read('2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z')).toBe('InvalidArgument');
  expect(await read('2026-01-01T00:00:00Z', '2026-11-01T00:00:00Z')).toBe('InvalidArgument');
  expect(await read('2026-08-31T00:00:00Z', '2026-12-01T00:00:00Z')).toBe('answered');
  // Only from: up to now; only to: the 24 hours before it.
  expect(await read('2026-11-30T00:00:00Z')).toBe('answered');
  expect(await read(undefined, '2026-11-01T00:00:00Z')).toBe('answered');
  expect(queries.slice(1).map((q) => [q.from.toISOString(), q.to.toISOString()])).toEqual([
    ['2026-11-30T00:00:00.000Z', '2026-12-01T12:00:00.000Z'],
    ['2026-10-31T00:00:00.000Z', '2026-11-01T00:00:00.000Z'],
  ]);
  expect(await codeOf(usage.getUsage({ assistant: 'a\u0000b' }, as('demoOperator')))).toBe('InvalidArgument');
});
