import { Code, ConnectError } from '@toolmesh/rpc';
import {
  type AssistantCatalog,
  assistantsForTenant,
  chooseAssistant,
  type ModelBackend,
  parseAssistantsFile,
  toolAllowed,
} from '../../src/assistants/index.ts';

const envModel: ModelBackend = { name: 'env', baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k', model: 'm' };
const parse = (...lines: string[]): AssistantCatalog =>
  parseAssistantsFile(lines.join('\n'), { envModel, env: {}, readFile: () => '' });

const catalog = parse(
  'assistants:',
  '  - name: shop-support',
  '    instructions: Shop.',
  '    variants:',
  '      - { name: v1, weight: 90 }',
  '      - { name: v2, weight: 10, instructions: Shop v2., temperature: 0.1 }',
  '  - name: hr',
  '    instructions: HR.',
  '    tools: [get_employee]',
  '    tenants: [t_hr]',
  '  - name: ops',
  '    instructions: Ops.',
  '    tenants: [t_hr, t_ops]',
  'default: shop-support',
  'tenants:',
  '  t_hr: { default_assistant: hr }',
);

// The error a choice throws, with its code and message.
function refusal(request: Parameters<typeof chooseAssistant>[1]): { code: Code; message: string } {
  try {
    chooseAssistant(catalog, request);
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return { code: (error as ConnectError).code, message: (error as ConnectError).rawMessage };
  }
  throw new Error('expected a refusal');
}

test('no name: the tenant default, else the catalog default', () => {
  expect(chooseAssistant(catalog, { requested: '', tenantId: 't_hr', conversationId: 'c1' })).toEqual({
    assistant: 'hr',
    variant: 'default',
    profile: { instructions: 'HR.', tools: ['get_employee'], models: ['env'], limits: {} },
  });
  expect(chooseAssistant(catalog, { requested: '', tenantId: 't_x', conversationId: 'c1' }).assistant).toBe(
    'shop-support',
  );
  expect(
    chooseAssistant(catalog, { requested: 'ops', tenantId: 't_ops', conversationId: 'c1' }).assistant,
  ).toBe('ops');
});

test('unknown and forbidden assistants are the same NOT_FOUND, never a fallback', () => {
  const unknown = refusal({ requested: 'nope', tenantId: 't_x', conversationId: 'c1' });
  const forbidden = refusal({ requested: 'hr', tenantId: 't_x', conversationId: 'c1' });
  expect(unknown).toEqual({ code: Code.NotFound, message: 'no assistant named "nope" for this tenant' });
  expect(forbidden).toEqual({ code: Code.NotFound, message: 'no assistant named "hr" for this tenant' });
  expect(assistantsForTenant(catalog, 't_x').map((a) => a.name)).toEqual(['shop-support']);
  expect(assistantsForTenant(catalog, 't_hr').map((a) => a.name)).toEqual(['shop-support', 'hr', 'ops']);
});

test('a conversation stays with its assistant and variant', () => {
  const stored = { assistant: 'shop-support', variant: 'v2' };
  const same = chooseAssistant(catalog, { requested: '', tenantId: 't_x', conversationId: 'c1', stored });
  expect(same).toMatchObject({
    assistant: 'shop-support',
    variant: 'v2',
    profile: { instructions: 'Shop v2.' },
  });
  expect(
    chooseAssistant(catalog, { requested: 'shop-support', tenantId: 't_x', conversationId: 'c1', stored })
      .variant,
  ).toBe('v2');
  expect(refusal({ requested: 'ops', tenantId: 't_ops', conversationId: 'c1', stored })).toEqual({
    code: Code.InvalidArgument,
    message: 'this conversation belongs to assistant "shop-support"; start a new conversation for another',
  });
  // The stored assistant must still exist and be allowed.
  expect(
    refusal({
      requested: '',
      tenantId: 't_x',
      conversationId: 'c1',
      stored: { assistant: 'gone', variant: 'default' },
    }),
  ).toEqual({ code: Code.NotFound, message: 'no assistant named "gone" for this tenant' });
  expect(
    refusal({
      requested: '',
      tenantId: 't_x',
      conversationId: 'c1',
      stored: { assistant: 'hr', variant: 'default' },
    }).code,
  ).toBe(Code.NotFound);
  // A stored variant that no longer exists: the deterministic choice.
  const gone = chooseAssistant(catalog, {
    requested: '',
    tenantId: 't_x',
    conversationId: 'c1',
    stored: { assistant: 'shop-support', variant: 'v9' },
  });
  expect(gone.variant).toBe(
    chooseAssistant(catalog, { requested: '', tenantId: 't_x', conversationId: 'c1' }).variant,
  );
});

test('variants split by weight within tolerance, and each conversation keeps its variant', () => {
  const n = 10_000;
  let v2 = 0;
  for (let i = 0; i < n; i++) {
    const conversationId = `conversation-${i}`;
    const chosen = chooseAssistant(catalog, { requested: 'shop-support', tenantId: 't_x', conversationId });
    if (chosen.variant === 'v2') v2++;
    else expect(chosen.variant).toBe('v1');
    if (i % 500 === 0)
      for (let again = 0; again < 3; again++)
        expect(chooseAssistant(catalog, { requested: '', tenantId: 't_x', conversationId }).variant).toBe(
          chosen.variant,
        );
  }
  expect(v2 / n).toBeGreaterThanOrEqual(0.088);
  expect(v2 / n).toBeLessThanOrEqual(0.112);
});

test('a variant of weight 0 gets no new conversations', () => {
  const off = parse(
    'assistants:',
    '  - name: a',
    '    instructions: x',
    '    variants: [{ name: v1, weight: 1 }, { name: v2, weight: 0 }]',
    'default: a',
  );
  for (let i = 0; i < 1000; i++)
    expect(chooseAssistant(off, { requested: '', tenantId: 't', conversationId: `c${i}` }).variant).toBe(
      'v1',
    );
  const stored = { assistant: 'a', variant: 'v2' };
  expect(chooseAssistant(off, { requested: '', tenantId: 't', conversationId: 'c1', stored }).variant).toBe(
    'v2',
  );
});

test('tool globs: * only, anchored; no tools key allows every tool', () => {
  const profile = {
    instructions: 'x',
    models: ['env'],
    limits: {},
    tools: ['get_order_detail', 'get_*', 'mcp.*.read'],
  };
  expect(toolAllowed(profile, 'get_order_detail')).toBe(true);
  expect(toolAllowed(profile, 'get_inventory_snapshot')).toBe(true);
  expect(toolAllowed(profile, 'get_')).toBe(true);
  expect(toolAllowed(profile, 'create_ticket')).toBe(false);
  expect(toolAllowed(profile, 'xget_order')).toBe(false);
  expect(toolAllowed(profile, 'mcp.files.read')).toBe(true);
  expect(toolAllowed(profile, 'mcpXfilesXread')).toBe(false); // dots are literal
  expect(toolAllowed(profile, 'mcp.files.readall')).toBe(false);
  expect(toolAllowed({ ...profile, tools: ['get_?rder'] }, 'get_order')).toBe(false); // ? is literal
  expect(toolAllowed({ ...profile, tools: [] }, 'get_order_detail')).toBe(false);
  expect(toolAllowed({ instructions: 'x', models: ['env'], limits: {} }, 'anything')).toBe(true);
});
