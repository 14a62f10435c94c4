// The gateway's /mcp endpoint against a stand-in orchestrator (real gRPC, real mesh
// credentials), driven by the official MCP SDK client: authenticated like every RPC,
// rate limited per user, tools/list and tools/call forwarded as the verified caller.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { createRateLimiter } from '@toolmesh/limits';
import { RegistryService, SideEffect, ToolCallService, ToolErrorCode } from '@toolmesh/proto';
import {
  createGrpcClient,
  createServer,
  errorFor,
  requireCredential,
  type Server,
  serviceRegistration,
} from '@toolmesh/rpc';
import { createLogger } from '@toolmesh/telemetry';
import { createTestMeshKeys } from '@toolmesh/testkit';
import { createSignAsCaller } from '../src/forward-as-caller.ts';
import {
  type Authenticate,
  createApiKeyAuthenticator,
  createForwardAsCaller,
  createGatewayServer,
  devApiKeys,
} from '../src/index.ts';
import { acceptGatewayCredentials } from './support/accept-gateway-credentials.ts';
import { orchestratorClientsAt } from './support/orchestrator-clients-at.ts';

const logger = createLogger({ service: 'gateway-mcp-test', level: 'silent' });
const meshKeys = await createTestMeshKeys();

const tool = (name: string, permission: string, sideEffect: SideEffect) => ({
  name,
  description: `${name} of the stand-in`,
  inputSchemaJson: JSON.stringify({
    type: 'object',
    properties: { order_id: { type: 'string' } },
    required: ['order_id'],
  }),
  metadata: { permission, sideEffect },
});
const calls: { tool: string; user: string; requestId: string; args: string }[] = [];

const orchestrator = createServer({
  logger,
  interceptors: [acceptGatewayCredentials(meshKeys.keys)],
  services: [
    serviceRegistration(RegistryService, {
      listRegisteredTools(_req, ctx) {
        const { principal } = requireCredential(ctx);
        const all = [
          tool('get_order_detail', 'order:read', SideEffect.READ),
          tool('create_ticket', 'ticket:write', SideEffect.WRITE),
          tool('drop_everything', 'admin:write', SideEffect.WRITE),
        ];
        return {
          tools: all.map((definition) => ({
            definition,
            permitted: principal.permissions.includes(definition.metadata.permission),
          })),
        };
      },
    }),
    serviceRegistration(ToolCallService, {
      callTool(req, ctx) {
        const { principal, requestId } = requireCredential(ctx);
        calls.push({ tool: req.toolName, user: principal.userId, requestId, args: req.argumentsJson });
        if (req.toolName === 'create_ticket') {
          return {
            conversationId: '11111111-2222-4333-8444-555555555555',
            outcome: {
              case: 'pendingAction',
              value: {
                actionId: '66666666-7777-4888-8999-000000000000',
                toolName: 'create_ticket',
                summary: 'create_ticket(order_id=202604100018)',
                expiresAt: { seconds: 1_900_000_000n, nanos: 0 },
              },
            },
          };
        }
        if (req.toolName === 'get_order_detail') {
          return {
            outcome: { case: 'resultJson', value: JSON.stringify({ owner: principal.userId }) },
          };
        }
        return {
          outcome: {
            case: 'error',
            value: { code: ToolErrorCode.INVALID_ARGUMENT, message: `unknown tool "${req.toolName}"` },
          },
        };
      },
    }),
  ],
});

let address: string;
let gateway: Server;
let limited: Server;
let url: string;
let limitedUrl: string;
const clients: Client[] = [];

function startGateway(
  address: string,
  publicRate?: { ratePerSec: number; burst: number },
  authenticate: Authenticate = createApiKeyAuthenticator(devApiKeys),
) {
  return createGatewayServer({
    orchestrator: orchestratorClientsAt(address),
    forwardAsCaller: createForwardAsCaller(meshKeys.gateway),
    mcp: {
      toolCalls: createGrpcClient(ToolCallService, { address }),
      signAsCaller: createSignAsCaller(meshKeys.gateway),
    },
    authenticate,
    defaultDeadlineMs: 10_000,
    rateLimiter: createRateLimiter(),
    chatRate: { ratePerSec: 5, burst: 10 },
    ...(publicRate ? { publicRate } : {}),
    logger,
  });
}

beforeAll(async () => {
  address = `127.0.0.1:${await orchestrator.listen(0)}`;
  gateway = startGateway(address);
  url = `http://127.0.0.1:${await gateway.listen(0)}/mcp`;
  // Rate 0.001/s: the burst is all a test gets, whatever the clock does.
  limited = startGateway(address, { ratePerSec: 0.001, burst: 2 });
  limitedUrl = `http://127.0.0.1:${await limited.listen(0)}/mcp`;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([gateway.shutdown(1_000), limited.shutdown(1_000), orchestrator.shutdown(1_000)]);
});

async function connect(key: string, at = url) {
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  clients.push(client);
  await client.connect(
    new StreamableHTTPClientTransport(new URL(at), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

const initialize = (protocolVersion: string) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

const post = (body: unknown, headers: Record<string, string> = {}, at = url) =>
  fetch(at, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });

test('tools/list offers the caller’s permitted tools with their schemas and side-effect hints', async () => {
  const client = await connect('dev-key-u1001');
  const { tools } = await client.listTools();
  expect(tools.map((t) => t.name)).toEqual(['get_order_detail', 'create_ticket']);
  expect(tools[0]).toMatchObject({
    inputSchema: { type: 'object', required: ['order_id'] },
    annotations: { readOnlyHint: true, destructiveHint: false },
  });
  expect(tools[1]?.annotations).toEqual({ readOnlyHint: false, destructiveHint: true });

  const readOnly = await connect('dev-key-readonly');
  expect((await readOnly.listTools()).tools.map((t) => t.name)).toEqual(['get_order_detail']);
});

test('tools/call runs as the verified caller: a read answers text and structured content', async () => {
  const client = await connect('dev-key-u2002');
  const result = await client.callTool({ name: 'get_order_detail', arguments: { order_id: '1' } });
  expect(result.isError).toBeFalsy();
  expect(result.structuredContent).toEqual({ owner: 'u_2002' });
  expect(result.content).toEqual([{ type: 'text', text: '{"owner":"u_2002"}' }]);
  expect(calls.at(-1)).toMatchObject({ tool: 'get_order_detail', user: 'u_2002', args: '{"order_id":"1"}' });
  expect(calls.at(-1)?.requestId).toMatch(/^[0-9a-f-]{36}$/);
});

test('a write answers its pending action and how to confirm it', async () => {
  const client = await connect('dev-key-u1001');
  const result = await client.callTool({ name: 'create_ticket', arguments: { order_id: '202604100018' } });
  expect(result.isError).toBeFalsy();
  const text = (result.content as { text: string }[])[0]?.text ?? '';
  expect(text).toContain('Nothing was written');
  expect(text).toContain(
    'toolmesh confirm 11111111-2222-4333-8444-555555555555 66666666-7777-4888-8999-000000000000',
  );
  expect(result.structuredContent).toMatchObject({
    status: 'pending_approval',
    action_id: '66666666-7777-4888-8999-000000000000',
    conversation_id: '11111111-2222-4333-8444-555555555555',
    summary: 'create_ticket(order_id=202604100018)',
    expires_at: new Date(1_900_000_000_000).toISOString(),
  });
});

test('a refused call is an MCP tool error with the sanitized message', async () => {
  const client = await connect('dev-key-u1001');
  const result = await client.callTool({ name: 'drop_everything', arguments: {} });
  expect(result.isError).toBe(true);
  expect(result.content).toEqual([
    { type: 'text', text: 'INVALID_ARGUMENT: unknown tool "drop_everything"' },
  ]);
});

test('no key or an unknown key: 401 with a JSON-RPC error, and no tools', async () => {
  for (const headers of [{}, { authorization: 'Bearer not-a-key' }] as Record<string, string>[]) {
    const res = await post(initialize(LATEST_PROTOCOL_VERSION), headers);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 }, id: null });
  }
  await expect(connect('not-a-key')).rejects.toThrow();
});

test('the current protocol revision and the previous one are both negotiated', async () => {
  for (const version of [LATEST_PROTOCOL_VERSION, '2025-06-18']) {
    const res = await post(initialize(version), { authorization: 'Bearer dev-key-u1001' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      result: { protocolVersion: version, serverInfo: { name: 'toolmesh' } },
    });
  }
});

test('requests are rate limited per user under the public rule', async () => {
  const ok = { authorization: 'Bearer dev-key-u1001' };
  expect((await post(initialize(LATEST_PROTOCOL_VERSION), ok, limitedUrl)).status).toBe(200);
  expect((await post(initialize(LATEST_PROTOCOL_VERSION), ok, limitedUrl)).status).toBe(200);
  const refused = await post(initialize(LATEST_PROTOCOL_VERSION), ok, limitedUrl);
  expect(refused.status).toBe(429);
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  // Another user has a bucket of their own.
  const other = await post(
    initialize(LATEST_PROTOCOL_VERSION),
    { authorization: 'Bearer dev-key-u2002' },
    limitedUrl,
  );
  expect(other.status).toBe(200);
});

test('an unreachable identity provider is 503, not a refused key', async () => {
  const down = startGateway(address, undefined, async () => {
    throw errorFor('DEPENDENCY_UNAVAILABLE', { metadata: { dependency: 'identity' } });
  });
  try {
    const at = `http://127.0.0.1:${await down.listen(0)}/mcp`;
    const res = await post(
      initialize(LATEST_PROTOCOL_VERSION),
      { authorization: 'Bearer some.jwt.token' },
      at,
    );
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: -32000 } });
  } finally {
    await down.shutdown(1_000);
  }
});
