// The bridge's own rules without processes: the servers file (every problem named by line and key),
// names, side effects and overrides, argument checks against the MCP inputSchema (no MCP call when
// they fail), and how MCP results become tool results.
import type { CallToolResult, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { createLogger } from '@toolmesh/telemetry';
import { ToolFailure } from '@toolmesh/tool-sdk';
import {
  type McpServerConfig,
  McpServersFileError,
  mcpTools,
  meshToolName,
  parseMcpServersFile,
  toolResult,
} from '../src/index.ts';
import type { McpConnection } from '../src/mcp-connection.ts';

const logger = createLogger({ service: 'mcp-bridge-test', level: 'silent' });

function fileIssues(text: string, env: Record<string, string> = {}) {
  try {
    parseMcpServersFile(text, env);
  } catch (error) {
    if (error instanceof McpServersFileError) return error.issues;
    throw error;
  }
  throw new Error('the file was accepted');
}

test('a valid file: http with headers from the environment, stdio with args and env, tool overrides', () => {
  const servers = parseMcpServersFile(
    `servers:
  - name: docs
    url: http://127.0.0.1:3001/mcp
    headers: { X-Team: a }
    headers_env: { Authorization: DOCS_TOKEN }
    permission: docs:read
    tools:
      publish: { permission: docs:write, side_effect: write, timeout_ms: 2000, cache_ttl_ms: 0 }
  - name: local1
    command: node
    args: [server.js]
    env: { MODE: test }
    permission: ticket:read
`,
    { DOCS_TOKEN: 'Bearer s3cret' },
  );
  expect(servers).toEqual([
    {
      name: 'docs',
      permission: 'docs:read',
      transport: {
        kind: 'http',
        url: 'http://127.0.0.1:3001/mcp',
        headers: { 'X-Team': 'a', Authorization: 'Bearer s3cret' },
      },
      tools: { publish: { permission: 'docs:write', sideEffect: 'write', timeoutMs: 2000, cacheTtlMs: 0 } },
    },
    {
      name: 'local1',
      permission: 'ticket:read',
      transport: { kind: 'stdio', command: 'node', args: ['server.js'], env: { MODE: 'test' } },
      tools: {},
    },
  ]);
});

test('problems are named by line and key, secrets never', () => {
  const issues = fileIssues(
    `servers:
  - name: Bad_Name
    url: http://x/mcp
    command: node
    permission: p
  - name: ok
    url: http://x/mcp
    headers_env: { Authorization: MISSING_TOKEN }
    permission: p
    tools:
      t: { side_effect: maybe, colour: red }
  - name: ok
    command: node
`,
  );
  const text = issues.map((i) => `${i.line} ${i.path}: ${i.message}`);
  expect(text).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^2 servers\[0\]\.name: must be/),
      '3 servers[0].url: give exactly one of url or command',
      expect.stringMatching(/^11 servers\[1\]\.tools\.t\.side_effect: /),
      '11 servers[1].tools.t.colour: unknown key',
      '12 servers[2].permission: required',
    ]),
  );
  // Duplicate names and unset variables are reported once the shape is right.
  const second = fileIssues(
    `servers:
  - name: ok
    url: http://x/mcp
    headers_env: { Authorization: MISSING_TOKEN }
    permission: p
  - name: ok
    command: node
    permission: p
`,
  );
  expect(second.map((i) => `${i.line} ${i.path}: ${i.message}`)).toEqual([
    '4 servers[0].headers_env.Authorization: environment variable MISSING_TOKEN is not set',
    '6 servers[1].name: duplicate server name "ok"',
  ]);
  expect(fileIssues('servers: [\n')[0]?.message).toContain('invalid YAML');
});

test('names are <server>_<tool>, sanitized and at most 64 characters', () => {
  expect(meshToolName('mcpstdio', 'get-sum')).toBe('mcpstdio_get-sum');
  expect(meshToolName('fs', 'read.file/v2')).toBe('fs_read_file_v2');
  expect(meshToolName('s', 'x'.repeat(100))).toHaveLength(64);
});

function fakeConnection(tools: McpTool[], server: Partial<McpServerConfig> = {}) {
  const calls: { name: string; args: unknown }[] = [];
  const connection: McpConnection = {
    server: {
      name: 'srv',
      permission: 'p:read',
      tools: {},
      transport: { kind: 'stdio', command: 'x', args: [], env: {} },
      ...server,
    },
    tools: () => tools,
    ready: async () => {},
    async call(name, args) {
      calls.push({ name, args });
      return { content: [{ type: 'text', text: 'ok' }] };
    },
    close: async () => {},
  };
  return { connection, calls };
}

const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object' as const,
  properties: { a: { type: 'number' }, b: { type: 'number' } },
  required: ['a', 'b'],
  additionalProperties: false,
};

test('readOnlyHint makes a read, anything else a write, unless the file says otherwise', () => {
  const { connection } = fakeConnection(
    [
      { name: 'look', inputSchema: schema, annotations: { readOnlyHint: true } },
      { name: 'change', inputSchema: schema },
      { name: 'tweak', inputSchema: schema, annotations: { readOnlyHint: false, idempotentHint: true } },
      { name: 'forced', inputSchema: schema, annotations: { readOnlyHint: true } },
    ],
    { tools: { forced: { sideEffect: 'write', permission: 'p:write', timeoutMs: 1234, cacheTtlMs: 50 } } },
  );
  const tools = new Map(mcpTools({ connection, logger }).map((t) => [t.name, t]));
  expect(tools.get('srv_look')?.metadata).toMatchObject({
    sideEffect: 'read',
    permission: 'p:read',
    idempotent: true,
  });
  expect(tools.get('srv_change')?.metadata).toMatchObject({ sideEffect: 'write', idempotent: false });
  expect(tools.get('srv_tweak')?.metadata).toMatchObject({ sideEffect: 'write', idempotent: true });
  expect(tools.get('srv_forced')?.metadata).toMatchObject({
    sideEffect: 'write',
    permission: 'p:write',
    timeoutMs: 1234,
    cacheTtlMs: 50,
  });
  expect(tools.get('srv_look')?.description).toContain('[MCP server "srv", tool "look"]');
  // Published without the draft-07 $schema the orchestrator's 2020-12 validator would not know.
  expect(JSON.parse(tools.get('srv_look')?.inputJsonSchema ?? '{}')).toEqual({
    type: 'object',
    properties: { a: { type: 'number' }, b: { type: 'number' } },
    required: ['a', 'b'],
    additionalProperties: false,
  });
});

test('arguments are checked against the inputSchema: path and rule, never the value', () => {
  const { connection } = fakeConnection([
    { name: 'sum', inputSchema: schema, annotations: { readOnlyHint: true } },
  ]);
  const [tool] = mcpTools({ connection, logger });
  expect(tool?.input.safeParse({ a: 1, b: 2 }).success).toBe(true);
  const bad = tool?.input.safeParse({ a: 'secret-value', c: 1 });
  expect(bad?.success).toBe(false);
  const issues = bad?.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
  expect(issues).toEqual(
    expect.arrayContaining([
      ": must have required property 'b'",
      ': must NOT have additional properties (c)',
      'a: must be number',
    ]),
  );
  expect(JSON.stringify(issues)).not.toContain('secret-value');
});

test('MCP results: structured content first, text joined, media summarized, isError a failure', () => {
  const image = Buffer.alloc(300).toString('base64');
  expect(
    toolResult({
      content: [
        { type: 'text', text: 'a' },
        { type: 'text', text: 'b' },
      ],
    }),
  ).toEqual({ text: 'a\nb' });
  expect(
    toolResult({
      content: [{ type: 'text', text: '{"x":1}' }],
      structuredContent: { x: 1 },
    } as CallToolResult),
  ).toEqual({ x: 1 });
  const media = toolResult({
    content: [
      { type: 'text', text: 'here' },
      { type: 'image', data: image, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'file:///a.txt', mimeType: 'text/plain', text: 'hello' } },
      { type: 'resource_link', uri: 'file:///b', name: 'b' },
    ],
  });
  expect(media).toEqual({
    text: 'here',
    attachments: [
      { type: 'image', mime_type: 'image/png', bytes: 300 },
      { type: 'resource', uri: 'file:///a.txt', mime_type: 'text/plain', bytes: 5 },
      { type: 'resource_link', uri: 'file:///b', name: 'b', mime_type: undefined },
    ],
  });
  expect(JSON.stringify(media)).not.toContain(image.slice(0, 20));
  let failure: unknown;
  try {
    toolResult({ isError: true, content: [{ type: 'text', text: 'x'.repeat(2_000) }] });
  } catch (error) {
    failure = error;
  }
  expect(failure).toBeInstanceOf(ToolFailure);
  expect((failure as ToolFailure).code).toBe('FAILED_PRECONDITION');
  expect((failure as ToolFailure).message.length).toBeLessThanOrEqual(501);
});
