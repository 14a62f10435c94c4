// Zero trust, tried as an attacker would, against one mesh of real processes: whoever reaches an
// internal port without a credential the mesh signed for exactly that call gets UNAUTHENTICATED
// and changes nothing; two tenants with the same user id share nothing; a JWT of the configured
// identity provider works at the edge and nothing else does; the gateway never starts with the
// demo keys in production. See docs/security.md.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CallOptions, Code, ConnectError, createClient } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import {
  AssistantService,
  AuditService,
  ChatService,
  Health,
  RegistryService,
  reflectionV1,
  HealthCheckResponse_ServingStatus as ServingStatus,
  StopReason,
  TaskService,
  ToolCallService,
  ToolService,
  UsageService,
} from '@toolmesh/proto';
import {
  type CredentialIssuer,
  createCredentialIssuer,
  createGrpcClient,
  credentialHeaders,
  type MeshKeyFiles,
  meshAudience,
  meshIssuer,
  signingKeyFromFile,
  writeMeshKeyFiles,
} from '@toolmesh/rpc';
import { createTestDatabase, type TestDatabase, waitFor } from '@toolmesh/testkit';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import pg from 'pg';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

const readWrite = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read', 'ticket:write'];
const keys = {
  demo: 'zt-demo-u1001-key-0001',
  other: 'zt-other-u1001-key-0001',
  demoOperator: 'zt-demo-operator-key-01',
  otherOperator: 'zt-other-operator-key-1',
};
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
// The same user id in two tenants; t_other's key is configured hashed, as a Secret should hold it.
const apiKeys = {
  [keys.demo]: { user_id: 'u_1001', tenant_id: 't_demo', permissions: readWrite },
  [`sha256:${sha256(keys.other)}`]: { user_id: 'u_1001', tenant_id: 't_other', permissions: readWrite },
  [keys.demoOperator]: { user_id: 'op_demo', tenant_id: 't_demo', permissions: ['audit:read'] },
  [keys.otherOperator]: { user_id: 'op_other', tenant_id: 't_other', permissions: ['audit:read'] },
};
const jwtIssuer = 'https://idp.zero-trust.test/';
const jwtAudience = 'toolmesh-zero-trust';
const jwtKid = 'zt-idp-1';

const seedQuestion = 'Where is my order 202604100018? I also need an invoice for it.';
// What u_1001 of t_demo's order holds: none of it may reach anyone else.
const orderSecrets = ['SF1234567890', 'Shanghai-DC-03', 'shipped', 'SKU-2002'];
const demoPrincipal = { userId: 'u_1001', tenantId: 't_demo', permissions: readWrite };
// What a made-up principal looked like when services trusted headers and bodies.
const madeUpPrincipalHeaders = {
  'x-toolmesh-user-id': 'u_1001',
  'x-toolmesh-tenant-id': 't_demo',
  'x-toolmesh-permissions': 'ticket:write order:read',
};

let db: TestDatabase;
let mesh: Mesh;
let dir: string;
let sql: pg.Pool;
let foreignKeys: MeshKeyFiles;
let idp: { sign(claims: JWTPayload, options?: { key?: 'other'; expiresIn?: number }): Promise<string> };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolmesh-zero-trust-'));
  // The identity provider's key, published in a local JWKS; and a key of nobody's.
  const own = await generateKeyPair('ES256', { extractable: true });
  const stranger = await generateKeyPair('ES256', { extractable: true });
  const jwksFile = join(dir, 'idp-jwks.json');
  await writeFile(
    jwksFile,
    JSON.stringify({
      keys: [{ ...(await exportJWK(own.publicKey)), kid: jwtKid, alg: 'ES256', use: 'sig' }],
    }),
  );
  idp = {
    sign(claims, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: jwtKid, typ: 'JWT' })
        .setIssuedAt(now)
        .setExpirationTime(now + (options.expiresIn ?? 300))
        .sign(options.key === 'other' ? stranger.privateKey : own.privateKey);
    },
  };
  // A complete set of mesh keys that this mesh does not trust: what an attacker can make.
  foreignKeys = await writeMeshKeyFiles(join(dir, 'foreign-keys'));

  db = await createTestDatabase();
  sql = new pg.Pool({ connectionString: db.url, max: 2 });
  mesh = await startMesh({
    ports: await freeMeshPorts(),
    databaseUrl: db.url,
    env: { LOG_LEVEL: 'warn' },
    serviceEnv: {
      gateway: {
        TOOLMESH_API_KEYS: JSON.stringify(apiKeys),
        TOOLMESH_JWKS_FILE: jwksFile,
        TOOLMESH_JWT_ISSUER: jwtIssuer,
        TOOLMESH_JWT_AUDIENCE: jwtAudience,
      },
    },
  });
}, 180_000);

afterAll(async () => {
  await mesh?.stop();
  await sql?.end();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const chatClient = (key?: string) =>
  createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, key));
const auditClient = (key: string) =>
  createClient(AuditService, gatewayTransport(mesh.grpcAddresses.gateway, key));

/** Signs as `issuer` with the key in `keyFile`, on `clock` (default: now). */
const issuerOf = (issuer: string, keyFile: string, clock?: ReturnType<typeof createManualClock>) =>
  createCredentialIssuer({ issuer, signingKey: signingKeyFromFile({ path: keyFile }), clock });
const meshGateway = () => issuerOf(meshIssuer.gateway, mesh.meshKeys.gatewayKeyFile);
const meshOrchestrator = () => issuerOf(meshIssuer.orchestrator, mesh.meshKeys.orchestratorKeyFile);

/** The call options of an InvokeTool call with a credential `issuer` signed for it. */
async function toolCall(
  issuer: CredentialIssuer,
  scope: { tool: string; callId: string; idempotencyKey?: string; audience?: string },
): Promise<CallOptions> {
  const token = await issuer.issue({
    principal: demoPrincipal,
    requestId: 'zero-trust-test',
    audience: scope.audience ?? meshAudience.tool(scope.tool),
    tool: scope.tool,
    callId: scope.callId,
    idempotencyKey: scope.idempotencyKey ?? '',
  });
  return { headers: { ...madeUpPrincipalHeaders, ...credentialHeaders(token) } };
}

/** The ConnectError a call failed with (a call that succeeds fails the test). */
async function failure(call: Promise<unknown>): Promise<ConnectError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome))
    throw new Error(`expected the call to fail; it answered ${String(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(ConnectError);
  return outcome.error as ConnectError;
}

async function expectUnauthenticated(call: Promise<unknown>): Promise<ConnectError> {
  const error = await failure(call);
  // The message is in the comparison only so that a failure shows it.
  expect([Code[error.code], error.rawMessage]).toEqual([Code[Code.Unauthenticated], expect.any(String)]);
  return error;
}

/** Everything an error carries that a caller could read. */
const visible = (error: ConnectError) =>
  JSON.stringify({
    message: error.message,
    details: error.details.map((d) => ('type' in d ? Buffer.from(d.value).toString('latin1') : '')),
    metadata: [...error.metadata.entries()],
  });

const ticketCount = async () =>
  Number((await sql.query<{ n: string }>('SELECT count(*) AS n FROM tickets.tickets')).rows[0]?.n);

const createTicketRequest = (toolCallId: string, idempotencyKey = '') => ({
  toolCallId,
  toolName: 'create_ticket',
  argumentsJson: JSON.stringify({
    order_id: '202604100018',
    category: 'invoice',
    description: 'Please send the invoice for this order.',
  }),
  idempotencyKey,
});
const orderDetailRequest = (toolCallId: string) => ({
  toolCallId,
  toolName: 'get_order_detail',
  argumentsJson: JSON.stringify({ order_id: '202604100018', include_items: true }),
});

describe('internal tool ports admit only credentials the mesh orchestrator signed for the call', () => {
  const tickets = () => createGrpcClient(ToolService, { address: mesh.grpcAddresses.ticket });
  const orders = () => createGrpcClient(ToolService, { address: mesh.grpcAddresses.order });

  test('create_ticket on the ticket port with a made-up principal and no credential: UNAUTHENTICATED, nothing written', async () => {
    const before = await ticketCount();
    await expectUnauthenticated(
      tickets().invokeTool(createTicketRequest('c1', 'k1'), { headers: madeUpPrincipalHeaders }),
    );
    await expectUnauthenticated(
      tickets().invokeTool(createTicketRequest('c1', 'k1'), {
        headers: { ...madeUpPrincipalHeaders, authorization: 'Bearer not-a-credential' },
      }),
    );
    expect(await ticketCount()).toBe(before);
  });

  test('create_ticket with a credential signed by a key the mesh does not know: UNAUTHENTICATED, nothing written', async () => {
    const before = await ticketCount();
    const forger = issuerOf(meshIssuer.orchestrator, foreignKeys.orchestratorKeyFile);
    await expectUnauthenticated(
      tickets().invokeTool(
        createTicketRequest('c1', 'k1'),
        await toolCall(forger, { tool: 'create_ticket', callId: 'c1', idempotencyKey: 'k1' }),
      ),
    );
    // The mesh's own gateway key cannot sign for the orchestrator (key ids bind keys to issuers),
    // nor is a gateway credential good on a tool port.
    const gatewayAsOrchestrator = issuerOf(meshIssuer.orchestrator, mesh.meshKeys.gatewayKeyFile);
    await expectUnauthenticated(
      tickets().invokeTool(
        createTicketRequest('c1', 'k1'),
        await toolCall(gatewayAsOrchestrator, { tool: 'create_ticket', callId: 'c1', idempotencyKey: 'k1' }),
      ),
    );
    await expectUnauthenticated(
      tickets().invokeTool(
        createTicketRequest('c1', 'k1'),
        await toolCall(meshGateway(), { tool: 'create_ticket', callId: 'c1', idempotencyKey: 'k1' }),
      ),
    );
    expect(await ticketCount()).toBe(before);
  });

  test('get_order_detail on the order port without or with a forged credential: UNAUTHENTICATED, no order data', async () => {
    const forger = issuerOf(meshIssuer.orchestrator, foreignKeys.orchestratorKeyFile);
    const errors = [
      await expectUnauthenticated(
        orders().invokeTool(orderDetailRequest('c1'), { headers: madeUpPrincipalHeaders }),
      ),
      await expectUnauthenticated(
        orders().invokeTool(
          orderDetailRequest('c1'),
          await toolCall(forger, { tool: 'get_order_detail', callId: 'c1' }),
        ),
      ),
    ];
    for (const error of errors) {
      for (const secret of [...orderSecrets, '202604100018']) expect(visible(error)).not.toContain(secret);
    }
  });

  test('a genuine credential replayed against another service, tool or call is UNAUTHENTICATED; for its own call it works', async () => {
    const credential = await toolCall(meshOrchestrator(), { tool: 'get_order_detail', callId: 'c1' });
    const before = await ticketCount();
    // Another service's tool.
    await expectUnauthenticated(tickets().invokeTool(createTicketRequest('c1'), credential));
    // The same tool, another call.
    await expectUnauthenticated(orders().invokeTool(orderDetailRequest('c2'), credential));
    expect(await ticketCount()).toBe(before);

    // Its own call: the test signs exactly as the orchestrator does.
    const own = await orders().invokeTool(orderDetailRequest('c1'), credential);
    expect(own.outcome.case).toBe('resultJson');
    expect(String(own.outcome.value)).toContain('SF1234567890');
  });

  test('a write credential is bound to its idempotency key: another key is UNAUTHENTICATED, nothing written', async () => {
    const before = await ticketCount();
    const credential = await toolCall(meshOrchestrator(), {
      tool: 'create_ticket',
      callId: 'c9',
      idempotencyKey: 'k9',
    });
    await expectUnauthenticated(tickets().invokeTool(createTicketRequest('c9', 'k10'), credential));
    // A read tool's credential of the same service is no write credential either.
    const listCredential = await toolCall(meshOrchestrator(), { tool: 'list_tickets', callId: 'c9' });
    await expectUnauthenticated(tickets().invokeTool(createTicketRequest('c9', 'k9'), listCredential));
    expect(await ticketCount()).toBe(before);
  });
});

describe('the orchestrator admits only credentials the mesh gateway signed for it', () => {
  const taskId = `task_${'0'.repeat(32)}`;
  const calls = (options: CallOptions) => {
    const address = mesh.grpcAddresses.orchestrator;
    return {
      'ChatService/Chat': () =>
        createGrpcClient(ChatService, { address }).chat({ message: seedQuestion }, options),
      'AuditService/ListAuditRecords': () =>
        createGrpcClient(AuditService, { address }).listAuditRecords({}, options),
      'TaskService/GetTask': () => createGrpcClient(TaskService, { address }).getTask({ taskId }, options),
      'RegistryService/ListRegisteredTools': () =>
        createGrpcClient(RegistryService, { address }).listRegisteredTools({}, options),
      'AssistantService/ListAssistants': () =>
        createGrpcClient(AssistantService, { address }).listAssistants({}, options),
      'UsageService/GetUsage': () => createGrpcClient(UsageService, { address }).getUsage({}, options),
      'ToolCallService/CallTool': () =>
        createGrpcClient(ToolCallService, { address }).callTool(
          { toolName: 'get_order_detail', argumentsJson: '{"order_id":"202604100018"}' },
          options,
        ),
    };
  };
  const expectAllRefused = async (options: CallOptions) => {
    for (const [name, call] of Object.entries(calls(options))) {
      const error = await failure(call());
      expect([name, Code[error.code]]).toEqual([name, Code[Code.Unauthenticated]]);
      for (const secret of orderSecrets) expect(visible(error)).not.toContain(secret);
    }
  };
  const forOrchestrator = async (issuer: CredentialIssuer, audience: string = meshAudience.orchestrator) => ({
    headers: credentialHeaders(
      await issuer.issue({
        principal: { ...demoPrincipal, permissions: [...readWrite, 'audit:read', 'audit:read:all-tenants'] },
        requestId: 'zero-trust-test',
        audience,
      }),
    ),
  });

  test('no credential, or a made-up principal in headers: UNAUTHENTICATED on every service', async () => {
    await expectAllRefused({});
    await expectAllRefused({ headers: madeUpPrincipalHeaders });
  });

  test('a gateway-style credential signed by a foreign key: UNAUTHENTICATED', async () => {
    await expectAllRefused(await forOrchestrator(issuerOf(meshIssuer.gateway, foreignKeys.gatewayKeyFile)));
  });

  test('a genuine credential of the wrong issuer or for another audience: UNAUTHENTICATED', async () => {
    // The orchestrator's own tool-call credential (signed with the mesh's orchestrator key).
    await expectAllRefused(await toolCall(meshOrchestrator(), { tool: 'get_order_detail', callId: 'c1' }));
    // The orchestrator's key claiming the orchestrator's audience: only the gateway signs for it.
    await expectAllRefused(await forOrchestrator(meshOrchestrator()));
    // The gateway's key, but for a tool's audience.
    await expectAllRefused(await forOrchestrator(meshGateway(), meshAudience.tool('get_order_detail')));
  });

  test("a credential signed with the mesh's own gateway key but expired: UNAUTHENTICATED", async () => {
    const tenMinutesAgo = createManualClock({ start: Date.now() - 10 * 60_000 });
    await expectAllRefused(
      await forOrchestrator(issuerOf(meshIssuer.gateway, mesh.meshKeys.gatewayKeyFile, tenMinutesAgo)),
    );
  });

  test('the same credential, current, is admitted (the refusals above are about the credential)', async () => {
    const view = await createGrpcClient(RegistryService, {
      address: mesh.grpcAddresses.orchestrator,
    }).listRegisteredTools({}, await forOrchestrator(meshGateway()));
    expect(view.tools.map((t) => t.definition?.name)).toContain('create_ticket');
  });
});

test('health and reflection answer without credentials on every internal port', async () => {
  for (const name of ['orchestrator', 'order', 'inventory', 'dispatch', 'ticket'] as const) {
    const address = mesh.grpcAddresses[name];
    const health = createGrpcClient(Health, { address });
    expect([name, (await health.check({ service: '' })).status]).toEqual([name, ServingStatus.SERVING]);
    const reflection = createGrpcClient(reflectionV1.ServerReflection, { address });
    async function* list() {
      yield { messageRequest: { case: 'listServices' as const, value: '' } };
    }
    let services: string[] = [];
    for await (const res of reflection.serverReflectionInfo(list())) {
      if (res.messageResponse.case === 'listServicesResponse') {
        services = res.messageResponse.value.service.map((s) => s.name);
      }
    }
    expect([name, services]).toEqual([
      name,
      expect.arrayContaining([
        'grpc.health.v1.Health',
        name === 'orchestrator' ? 'toolmesh.v1.ChatService' : 'toolmesh.v1.ToolService',
      ]),
    ]);
  }
});

describe('two tenants with the same user id share nothing', () => {
  let demoConversation: string;
  let demoAction: string;
  let demoTicket: string;

  beforeAll(async () => {
    const first = await chatClient(keys.demo).chat({ message: seedQuestion });
    expect(first.stopReason).toBe(StopReason.AWAITING_CONFIRMATION);
    expect(first.pendingActions.map((a) => a.toolName)).toEqual(['create_ticket']);
    demoConversation = first.conversationId;
    demoAction = first.pendingActions[0]?.actionId ?? '';
  }, 60_000);

  test("t_other's u_1001 cannot continue t_demo's u_1001 conversation", async () => {
    const error = await failure(
      chatClient(keys.other).chat({ conversationId: demoConversation, message: 'Is it still on its way?' }),
    );
    expect(Code[error.code]).toBe(Code[Code.NotFound]);
    for (const secret of orderSecrets) expect(visible(error)).not.toContain(secret);
  });

  test("t_other's u_1001 cannot decide t_demo's pending action; it stays pending for t_demo", async () => {
    const error = await failure(
      chatClient(keys.other).confirm({
        conversationId: demoConversation,
        actionId: demoAction,
        approve: true,
      }),
    );
    expect(Code[error.code]).toBe(Code[Code.NotFound]);

    const before = await ticketCount();
    const approved = await chatClient(keys.demo).confirm({
      conversationId: demoConversation,
      actionId: demoAction,
      approve: true,
    });
    expect(approved.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
    demoTicket = /T-[0-9A-Z]{10}/.exec(approved.reply)?.[0] ?? '';
    expect(demoTicket).not.toBe('');
    expect(await ticketCount()).toBe(before + 1);
    const owner = await sql.query('SELECT tenant_id, user_id FROM tickets.tickets WHERE ticket_id = $1', [
      demoTicket,
    ]);
    expect(owner.rows).toEqual([{ tenant_id: 't_demo', user_id: 'u_1001' }]);
  });

  test("the same idempotency_key in both tenants: t_other's turn is its own, not t_demo's replayed", async () => {
    const idempotencyKey = `zt-shared-${Date.now()}`;
    const demo = await chatClient(keys.demo).chat({ message: 'Please list my tickets.', idempotencyKey });
    expect(demo.reply).toContain(demoTicket);
    const other = await chatClient(keys.other).chat({ message: 'Please list my tickets.', idempotencyKey });
    expect(other.conversationId).not.toBe(demo.conversationId);
    expect(other.reply).not.toContain(demoTicket);
    expect(other.reply).not.toMatch(/T-[0-9A-Z]{10}/);
    expect(other.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['list_tickets', true]]);
    // t_demo's replay still answers t_demo's response.
    const replay = await chatClient(keys.demo).chat({ message: 'Please list my tickets.', idempotencyKey });
    expect(replay.conversationId).toBe(demo.conversationId);
  });

  test("t_other's u_1001 asking about order 202604100018 learns nothing of it", async () => {
    const res = await chatClient(keys.other).chat({ message: 'Where is my order 202604100018?' });
    const detail = res.toolExecutions.find((e) => e.toolName === 'get_order_detail');
    expect([detail?.success, detail?.errorCode]).toEqual([false, 'NOT_FOUND']);
    for (const secret of orderSecrets) expect(res.reply).not.toContain(secret);
  });

  test("over MCP (/mcp), t_other's u_1001 reading order 202604100018 gets an error and nothing of it", async () => {
    const call = (key: string) =>
      fetch(`http://${mesh.grpcAddresses.gateway}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'get_order_detail', arguments: { order_id: '202604100018' } },
        }),
      }).then((r) => r.text());
    // t_demo's u_1001 reads it, which shows the call itself is right.
    expect(await call(keys.demo)).toContain('SF1234567890');
    const other = await call(keys.other);
    expect(other).toContain('"isError":true');
    for (const secret of orderSecrets) expect(other).not.toContain(secret);
  });

  test("t_other's operator reads none of t_demo's audit records", async () => {
    // t_demo's operator sees t_demo's records: the log is not empty, it is scoped.
    const demoRecords = await waitFor(
      async () => {
        const { records } = await auditClient(keys.demoOperator).listAuditRecords({ pageSize: 500 });
        return records.some((r) => r.conversationId === demoConversation) && records;
      },
      { what: "t_demo's audit records of the seed conversation" },
    );
    expect(new Set(demoRecords.map((r) => r.tenantId))).toEqual(new Set(['t_demo']));

    const { records } = await auditClient(keys.otherOperator).listAuditRecords({ pageSize: 500 });
    expect(records.length).toBeGreaterThan(0);
    expect(new Set(records.map((r) => r.tenantId))).toEqual(new Set(['t_other']));
    expect(records.filter((r) => r.conversationId === demoConversation)).toEqual([]);
    const byUser = await auditClient(keys.otherOperator).listAuditRecords({
      pageSize: 500,
      userId: 'u_1001',
    });
    expect(byUser.records.every((r) => r.tenantId === 't_other')).toBe(true);
    const demoIds = new Set(demoRecords.map((r) => r.auditId));
    expect(byUser.records.filter((r) => demoIds.has(r.auditId))).toEqual([]);
    // And a user without audit:read reads nothing at all.
    const denied = await failure(auditClient(keys.other).listAuditRecords({}));
    expect(Code[denied.code]).toBe(Code[Code.PermissionDenied]);
  });
});

test("a caller's malformed x-request-id does not reach the audit log; a well-formed one does", async () => {
  const auditOf = async (conversationId: string) =>
    waitFor(
      async () => {
        const page = await auditClient(keys.demoOperator).listAuditRecords({ conversationId });
        return page.records.length > 0 && page.records;
      },
      { what: 'the audit records of the conversation' },
    );
  const forged = 'forged request id; DROP TABLE audit';
  const malformed = await chatClient(keys.demo).chat(
    { message: 'Please list my tickets.' },
    {
      headers: {
        'x-request-id': forged,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    },
  );
  for (const record of await auditOf(malformed.conversationId)) {
    expect(record.requestId).not.toBe(forged);
    expect(record.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(record.traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
  }
  const wellFormed = await chatClient(keys.demo).chat(
    { message: 'Please list my tickets.' },
    { headers: { 'x-request-id': 'zt-request-0001' } },
  );
  expect((await auditOf(wellFormed.conversationId)).map((r) => r.requestId)).toContain('zt-request-0001');
});

describe('JWT bearer tokens at the edge', () => {
  const claims = { iss: jwtIssuer, aud: jwtAudience, sub: 'u_1001', tenant_id: 't_demo' };
  const scope = 'order:read inventory:read dispatch:read';

  test('a token of the configured issuer is accepted and mapped to u_1001 of t_demo', async () => {
    const token = await idp.sign({ ...claims, scope });
    const res = await chatClient(token).chat({ message: 'Where is my order 202604100018?' });
    const detail = res.toolExecutions.find((e) => e.toolName === 'get_order_detail');
    expect(detail?.success).toBe(true);
    expect(res.reply).toContain('shipped');
    // The scope has no ticket permission: the write is never offered.
    expect(res.pendingActions).toHaveLength(0);

    const records = await waitFor(
      async () => {
        const page = await auditClient(keys.demoOperator).listAuditRecords({
          conversationId: res.conversationId,
        });
        return page.records.length > 0 && page.records;
      },
      { what: "the JWT chat's audit records" },
    );
    expect(records.map((r) => [r.toolName, r.userId, r.tenantId])).toContainEqual([
      'get_order_detail',
      'u_1001',
      't_demo',
    ]);
  });

  test('a wrong issuer, wrong audience, expired token or unknown key: UNAUTHENTICATED', async () => {
    const tokens = {
      'wrong issuer': await idp.sign({ ...claims, scope, iss: 'https://evil.example/' }),
      'wrong audience': await idp.sign({ ...claims, scope, aud: 'someone-else' }),
      expired: await idp.sign({ ...claims, scope }, { expiresIn: -10 * 60 }),
      'signed by another key': await idp.sign({ ...claims, scope }, { key: 'other' }),
    };
    for (const [why, token] of Object.entries(tokens)) {
      const error = await failure(chatClient(token).chat({ message: 'Where is my order 202604100018?' }));
      expect([why, Code[error.code]]).toEqual([why, Code[Code.Unauthenticated]]);
      for (const secret of orderSecrets) expect(visible(error)).not.toContain(secret);
    }
  });
});

describe('the gateway refuses to start with no caller credentials in production', () => {
  const main = fileURLToPath(new URL('../../../services/gateway/src/main.ts', import.meta.url));
  const runGateway = (env: NodeJS.ProcessEnv) => {
    const child = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        PORT: '0',
        METRICS_PORT: 'off',
        HOST: '127.0.0.1',
        ORCHESTRATOR_ADDR: mesh.grpcAddresses.orchestrator,
        TOOLMESH_MESH_KEY_FILE: mesh.meshKeys.gatewayKeyFile,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
  };

  test('no API keys and no JWKS: exits non-zero and says why on stderr', async () => {
    const { code, stdout, stderr } = await runGateway({});
    expect(code).not.toBe(0);
    expect(stderr).toContain('NODE_ENV=production and no caller credentials are configured');
    expect(stderr).toContain('The development API keys are never accepted in production');
    expect(stdout).not.toContain('listening');
  });

  test('an explicitly empty TOOLMESH_API_KEYS: exits non-zero and says why on stderr', async () => {
    const { code, stdout, stderr } = await runGateway({ TOOLMESH_API_KEYS: '' });
    expect(code).not.toBe(0);
    expect(stderr).toContain('TOOLMESH_API_KEYS holds no API keys and no JWKS is configured');
    expect(stdout).not.toContain('listening');
  });
});
