// The gateway's one port answers curl with JSON (Connect over HTTP/1.1), browsers with
// gRPC-Web, and gRPC clients as before: real processes, the real Postgres.
import { createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-node';
import { ChatService, StopReason } from '@toolmesh/proto';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

let db: TestDatabase;
let mesh: Mesh;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const ports = await freeMeshPorts();
  mesh = await startMesh({
    ports,
    databaseUrl: db.url,
    env: { LOG_LEVEL: 'warn' },
    serviceEnv: { gateway: { CORS_ALLOWED_ORIGINS: 'https://app.example.com' } },
  });
  base = `http://${mesh.grpcAddresses.gateway}`;
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await db?.drop();
}, 60_000);

const seedQuestion = 'Where is my order 202604100018? I also need an invoice for it.';

// What `curl -H 'content-type: application/json' -d '{…}' http://…/toolmesh.v1.ChatService/Chat` sends:
// a plain HTTP/1.1 POST (fetch never speaks h2c).
const postJson = (path: string, body: unknown, key?: string) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });

test('Chat with JSON over HTTP/1.1 answers JSON with the reply, tool executions and the pending action', async () => {
  const res = await postJson('/toolmesh.v1.ChatService/Chat', { message: seedQuestion }, 'dev-key-u1001');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  const body = (await res.json()) as {
    conversationId: string;
    reply: string;
    toolExecutions: { toolName: string; success: boolean; duration: string }[];
    pendingActions: { actionId: string; toolName: string }[];
    stopReason: string;
  };
  expect(body.reply).toContain('202604100018');
  expect(body.toolExecutions.map((e) => e.toolName).sort()).toEqual([
    'get_dispatch_plan',
    'get_inventory_snapshot',
    'get_order_detail',
  ]);
  expect(body.toolExecutions.every((e) => e.success && /^\d+(\.\d+)?s$/.test(e.duration))).toBe(true);
  expect(body.stopReason).toBe('STOP_REASON_AWAITING_CONFIRMATION');
  expect(body.pendingActions).toHaveLength(1);

  // Confirm the same way, proto field names (snake_case) work as well.
  const confirm = await postJson(
    '/toolmesh.v1.ChatService/Confirm',
    { conversation_id: body.conversationId, action_id: body.pendingActions[0]?.actionId, approve: true },
    'dev-key-u1001',
  );
  expect(confirm.status).toBe(200);
  const confirmed = (await confirm.json()) as { toolExecutions: { toolName: string; success: boolean }[] };
  expect(confirmed.toolExecutions).toEqual([
    expect.objectContaining({ toolName: 'create_ticket', success: true }),
  ]);
});

test('without a key (or with a wrong one) the answer is 401 with the Connect error code "unauthenticated"', async () => {
  for (const key of [undefined, 'not-a-key']) {
    const res = await postJson('/toolmesh.v1.ChatService/Chat', { message: 'hi' }, key);
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toMatchObject({
      code: 'unauthenticated',
      message: expect.stringContaining('API key'),
    });
  }
  const forbidden = await postJson('/toolmesh.v1.AuditService/ListAuditRecords', {}, 'dev-key-u1001');
  expect(forbidden.status).toBe(403);
  expect(await forbidden.json()).toMatchObject({ code: 'permission_denied' });
});

test('gRPC (h2c) still works on the same port', async () => {
  const client = createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, 'dev-key-u1001'));
  const res = await client.chat({ message: 'Where is my order 202604100018?' });
  expect(res.stopReason).toBe(StopReason.COMPLETED);
  expect(res.toolExecutions.map((e) => e.toolName)).toContain('get_order_detail');
});

test('gRPC-Web over HTTP/1.1 (application/grpc-web+proto), unary and server streaming', async () => {
  const transport = createGrpcWebTransport({
    baseUrl: base,
    httpVersion: '1.1',
    interceptors: [
      (next) => (req) => {
        req.header.set('authorization', 'Bearer dev-key-u1001');
        return next(req);
      },
    ],
  });
  const client = createClient(ChatService, transport);
  const res = await client.chat({ message: 'Where is my order 202604100018?' });
  expect(res.toolExecutions.map((e) => e.toolName)).toContain('get_order_detail');
  const events: string[] = [];
  for await (const event of client.chatStream({ message: 'Where is my order 202604100018?' })) {
    events.push(event.event.case ?? '');
  }
  expect(events).toContain('toolCallStarted');
  expect(events[events.length - 1]).toBe('final');
  const anonymous = createClient(ChatService, createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1' }));
  await expect(anonymous.chat({ message: 'hi' })).rejects.toMatchObject({ code: 16 });
});

test('Connect server streaming with JSON over HTTP/1.1 (application/connect+json)', async () => {
  const payload = Buffer.from(JSON.stringify({ message: 'Where is my order 202604100018?' }));
  const envelope = Buffer.alloc(5 + payload.length);
  envelope.writeUInt32BE(payload.length, 1);
  payload.copy(envelope, 5);
  const res = await fetch(`${base}/toolmesh.v1.ChatService/ChatStream`, {
    method: 'POST',
    headers: { 'content-type': 'application/connect+json', authorization: 'Bearer dev-key-u1001' },
    body: envelope,
  });
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  const messages: unknown[] = [];
  for (let at = 0; at < bytes.length; ) {
    const flags = bytes[at] ?? 0;
    const length = bytes.readUInt32BE(at + 1);
    const json = JSON.parse(bytes.subarray(at + 5, at + 5 + length).toString()) as unknown;
    // Flag 0x02 marks the end-of-stream message (error or trailers).
    if (!(flags & 2)) messages.push(json);
    else expect(json).toEqual({});
    at += 5 + length;
  }
  expect(messages[0]).toHaveProperty('toolCallStarted');
  expect(messages[messages.length - 1]).toHaveProperty('final.reply');
});

test('browsers: CORS_ALLOWED_ORIGINS answers preflights for listed origins only', async () => {
  const preflight = (origin: string) =>
    fetch(`${base}/toolmesh.v1.ChatService/Chat`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,authorization,connect-protocol-version',
      },
    });
  const allowed = await preflight('https://app.example.com');
  expect(allowed.status).toBeLessThan(300);
  expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
  const other = await preflight('https://evil.example.net');
  expect(other.headers.get('access-control-allow-origin')).toBeNull();
});
