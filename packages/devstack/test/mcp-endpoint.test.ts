// toolmesh as an MCP server, against real processes and the real Postgres: the official
// MCP SDK client at the gateway's /mcp as different users. Permitted tools only, each
// user's own data, and a write never runs until it is confirmed: through ChatService, or
// by the user answering the approval a client with elicitation is asked.
import { createClient } from '@connectrpc/connect';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type ElicitRequest,
  ElicitRequestSchema,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { ChatService } from '@toolmesh/proto';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import pg from 'pg';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

let db: TestDatabase;
let mesh: Mesh;
const clients: Client[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  // Free ports, as every other mesh test: the dev defaults may be taken (an `npm start`, another run).
  mesh = await startMesh({ ports: await freeMeshPorts(), databaseUrl: db.url });
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await mesh?.stop();
  await db?.drop();
}, 60_000);

const mcpUrl = () => new URL(`http://${mesh.grpcAddresses.gateway}/mcp`);

async function connect(key: string) {
  const client = new Client({ name: 'mcp-endpoint-test', version: '1.0.0' });
  clients.push(client);
  await client.connect(
    new StreamableHTTPClientTransport(mcpUrl(), {
      requestInit: { headers: { Authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

// A client whose user answers every approval with `answer`; the questions it was asked are kept.
async function connectAsking(key: string, answer: ElicitResult) {
  const asked: ElicitRequest['params'][] = [];
  const client = new Client(
    { name: 'mcp-endpoint-test-asking', version: '1.0.0' },
    { capabilities: { elicitation: {} } },
  );
  client.setRequestHandler(ElicitRequestSchema, (req) => {
    asked.push(req.params);
    return answer;
  });
  clients.push(client);
  const transport = new StreamableHTTPClientTransport(mcpUrl(), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return { client, asked, transport };
}

const ticketArgs = { order_id: '202604100018', category: 'product', description: 'Asked in the client' };

const textOf = (result: unknown) =>
  (((result as { content?: unknown }).content ?? []) as { text?: string }[])
    .map((c) => c.text ?? '')
    .join('\n');

async function ticketCount(): Promise<number> {
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  try {
    return (await sql.query('SELECT count(*)::int AS n FROM tickets.tickets')).rows[0].n;
  } finally {
    await sql.end();
  }
}

test('dev-key-u1001 is offered its tools, reads as a read and create_ticket as destructive', async () => {
  const client = await connect('dev-key-u1001');
  const { tools } = await client.listTools();
  const byName = new Map(tools.map((t) => [t.name, t]));
  expect(byName.get('get_order_detail')?.annotations).toMatchObject({ readOnlyHint: true });
  expect(byName.get('get_order_detail')?.inputSchema).toMatchObject({
    type: 'object',
    properties: { order_id: expect.anything() },
  });
  expect(byName.get('create_ticket')?.annotations).toMatchObject({
    destructiveHint: true,
    readOnlyHint: false,
  });
});

test('dev-key-readonly is not offered create_ticket', async () => {
  const client = await connect('dev-key-readonly');
  const names = (await client.listTools()).tools.map((t) => t.name);
  expect(names).toContain('get_order_detail');
  expect(names).not.toContain('create_ticket');
});

test('get_order_detail answers u_1001’s order to u_1001, and nothing of it to u_2002', async () => {
  const own = await (await connect('dev-key-u1001')).callTool({
    name: 'get_order_detail',
    arguments: { order_id: '202604100018' },
  });
  expect(own.isError).toBeFalsy();
  expect(own.structuredContent).toMatchObject({ order_id: '202604100018', logistics_no: 'SF1234567890' });

  const other = await (await connect('dev-key-u2002')).callTool({
    name: 'get_order_detail',
    arguments: { order_id: '202604100018' },
  });
  expect(other.isError).toBe(true);
  expect(textOf(other)).toMatch(/NOT_FOUND/);
  expect(textOf(other)).not.toContain('SF1234567890');
  expect(other.structuredContent).toBeUndefined();
});

test('create_ticket only proposes: no ticket until Confirm through ChatService, then exactly one', async () => {
  const before = await ticketCount();
  const client = await connect('dev-key-u1001');
  const result = await client.callTool({
    name: 'create_ticket',
    arguments: { order_id: '202604100018', category: 'delivery', description: 'Where is my parcel?' },
  });
  expect(result.isError).toBeFalsy();
  expect(textOf(result)).toContain('Nothing was written');
  const pending = result.structuredContent as { action_id: string; conversation_id: string; summary: string };
  expect(pending.summary).toContain('create_ticket(');
  expect(await ticketCount()).toBe(before);

  const chat = createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));
  // Another user cannot decide it.
  const other = createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u2002'));
  await expect(
    other.confirm({ conversationId: pending.conversation_id, actionId: pending.action_id, approve: true }),
  ).rejects.toThrow(/not found/);
  expect(await ticketCount()).toBe(before);

  const confirmed = await chat.confirm({
    conversationId: pending.conversation_id,
    actionId: pending.action_id,
    approve: true,
  });
  expect(confirmed.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
  // A repeat answers the first result and writes nothing more.
  await chat.confirm({ conversationId: pending.conversation_id, actionId: pending.action_id, approve: true });
  expect(await ticketCount()).toBe(before + 1);
});

test('no key or an unknown key is refused with 401 and gets no tools', async () => {
  for (const headers of [{}, { authorization: 'Bearer not-a-key' }] as Record<string, string>[]) {
    const res = await fetch(mcpUrl(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: -32001 } });
  }
  await expect(connect('not-a-key')).rejects.toThrow();
});

test('a client with elicitation asks its user: approved runs the write once with its result, declined writes nothing', async () => {
  const before = await ticketCount();
  const yes = await connectAsking('dev-key-u1001', { action: 'accept', content: { approve: true } });
  expect(yes.transport.sessionId).toBeTruthy();
  const approved = await yes.client.callTool({ name: 'create_ticket', arguments: ticketArgs });
  expect(yes.asked).toHaveLength(1);
  expect(yes.asked[0]?.message).toContain('create_ticket(');
  expect(approved.isError ? textOf(approved) : 'ok').toBe('ok');
  expect(approved.structuredContent).toMatchObject({ ticket_id: expect.any(String) });
  expect(await ticketCount()).toBe(before + 1);

  const no = await connectAsking('dev-key-u1001', { action: 'decline' });
  const declined = await no.client.callTool({ name: 'create_ticket', arguments: ticketArgs });
  expect(no.asked).toHaveLength(1);
  expect(textOf(declined)).toMatch(/Declined/);
  expect(await ticketCount()).toBe(before + 1);

  // Closing the form without answering leaves the action pending, to confirm later.
  const later = await connectAsking('dev-key-u1001', { action: 'cancel' });
  const pending = await later.client.callTool({ name: 'create_ticket', arguments: ticketArgs });
  expect(pending.structuredContent).toMatchObject({ status: 'pending_approval' });
  expect(await ticketCount()).toBe(before + 1);
});

test('an MCP session belongs to its caller: another user’s request with its id is 404', async () => {
  const { transport } = await connectAsking('dev-key-u1001', { action: 'decline' });
  const res = await fetch(mcpUrl(), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: 'Bearer dev-key-u2002',
      'mcp-session-id': transport.sessionId ?? '',
      'mcp-protocol-version': transport.protocolVersion ?? '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list', params: {} }),
  });
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ error: { message: expect.stringMatching(/session not found/) } });
});

test('a tools/call idempotency key in _meta answers a retry with the same pending action', async () => {
  const client = await connect('dev-key-u1001');
  const call = (key: string) =>
    client.callTool({
      name: 'create_ticket',
      arguments: ticketArgs,
      _meta: { 'io.toolmesh/idempotency-key': key },
    });
  const first = await call('mcp-retry-1');
  expect(first.structuredContent).toMatchObject({ status: 'pending_approval' });
  expect((await call('mcp-retry-1')).structuredContent).toEqual(first.structuredContent);
  const another = await call('mcp-retry-2');
  expect(another.structuredContent).not.toEqual(first.structuredContent);
});

test('the MCP endpoint reports its requests, sessions and approvals on /metrics', async () => {
  const text = await (await fetch(mesh.metricsUrls.gateway ?? '')).text();
  expect(text).toMatch(/mcp_requests_total\{method="tools\/call",status="200"\} [1-9]/);
  expect(text).toMatch(/mcp_requests_total\{method="other",status="401"\} [1-9]/);
  expect(text).toMatch(/mcp_elicitations_total\{answer="approved"\} [1-9]/);
  expect(text).toMatch(/mcp_sessions [0-9]/);
});
