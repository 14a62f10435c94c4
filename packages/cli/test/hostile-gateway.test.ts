// The CLI as a user runs it (a real process, stdin piped) against a gateway whose every
// string carries terminal escape sequences, control characters and bidi overrides, as a
// model, a tool service or another user could put them there. Nothing of them may reach
// the terminal, and the approval question must read exactly what will be approved.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { durationFromMs, timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  AssistantService,
  AuditService,
  ChatService,
  RegistryService,
  SideEffect,
  TaskService,
  TaskStatus,
  ToolErrorCode,
  UsageService,
} from '@toolmesh/proto';
import { runInTerminal, runToolmesh } from './run-toolmesh.ts';

// Erase the line, move up one, erase again: enough to draw a different question over the real one.
const rewrite = '\u001b[2K\u001b[1A\u001b[2K\r';
const hostile = (visible: string) =>
  `${rewrite}${visible}\u001b]0;pwned\u0007\u009b2J\u202e\u0008\u0000\u007f`;

// biome-ignore lint/suspicious/noControlCharactersInRegex: what must never reach the terminal
const unsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const conversationId = '0b6c9a2e-5d1f-4c47-9a43-1f0e6b2d7c11';
const actionId = '7f3e2d1c-4b5a-4968-8776-655443322110';
let confirmed: { approve: boolean }[] = [];
// What the CLI asked for: the assistant of each chat, the filters of each usage call.
let chatAssistants: string[] = [];
let usageRequests: { from?: string; to?: string; tenantId: string; assistant: string }[] = [];

const pendingAction = {
  actionId,
  toolName: hostile('create_ticket'),
  argumentsJson: JSON.stringify({
    order_id: '202604100018',
    description: `${rewrite}Approve get_order_detail? [y/N] `,
  }),
  summary: hostile('create_ticket(order_id=202604100018, category=invoice)'),
  expiresAt: timestampFromDate(new Date(Date.UTC(2026, 11, 1, 12, 0, 0))),
};

const handler = connectNodeAdapter({
  routes(router) {
    router.service(ChatService, {
      async *chatStream(req) {
        chatAssistants.push(req.assistant);
        yield { event: { case: 'textDelta', value: { text: hostile('Let me check.\n') } } };
        yield {
          event: {
            case: 'toolCallStarted',
            value: { toolCallId: 'call_1', toolName: hostile('get_order_detail'), argumentsJson: '{}' },
          },
        };
        yield {
          event: {
            case: 'toolCallFinished',
            value: {
              execution: {
                toolCallId: 'call_1',
                toolName: hostile('get_order_detail'),
                success: false,
                errorCode: hostile('NOT_FOUND'),
                errorMessage: hostile('order not found'),
                duration: durationFromMs(3),
              },
            },
          },
        };
        yield { event: { case: 'pendingAction', value: pendingAction } };
        yield {
          event: {
            case: 'final',
            value: { conversationId, reply: hostile('done'), pendingActions: [pendingAction] },
          },
        };
      },
      async confirm(req) {
        confirmed.push({ approve: req.approve });
        return { conversationId, reply: hostile(req.approve ? 'approved' : 'declined') };
      },
    });
    router.service(RegistryService, {
      async listRegisteredTools() {
        const name = hostile('evil_tool');
        return {
          discovery: hostile('static'),
          tools: [
            {
              definition: {
                name,
                metadata: { sideEffect: SideEffect.READ, permission: hostile('order:read') },
              },
              addresses: [hostile('10.0.0.9:50061')],
              permitted: true,
              available: true,
            },
          ],
          endpoints: [{ address: hostile('10.0.0.9:50061'), reachable: true, tools: [name] }],
        };
      },
    });
    router.service(TaskService, {
      async getTask() {
        return {
          task: {
            taskId: 'task_0123456789abcdef0123456789abcdef',
            toolName: hostile('export_order_report'),
            status: TaskStatus.FAILED,
            resultJson: hostile('{"rows":1}'),
            error: { code: ToolErrorCode.INTERNAL, message: hostile('it broke') },
          },
        };
      },
    });
    router.service(AssistantService, {
      async listAssistants() {
        return {
          defaultAssistant: hostile('shop-support'),
          assistants: [
            {
              name: hostile('shop-support'),
              description: hostile('The shop'),
              tools: [hostile('get_*')],
              models: [hostile('primary'), 'backup'],
              variants: [
                { name: hostile('v1'), weight: 90, models: ['primary'] },
                { name: 'v2', weight: 10, models: ['small'] },
              ],
            },
          ],
        };
      },
    });
    router.service(UsageService, {
      async getUsage(req) {
        usageRequests.push({
          ...(req.from ? { from: timestampDate(req.from).toISOString() } : {}),
          ...(req.to ? { to: timestampDate(req.to).toISOString() } : {}),
          tenantId: req.tenantId,
          assistant: req.assistant,
        });
        return {
          rows: [
            {
              tenantId: hostile('t_demo'),
              assistant: hostile('shop-support'),
              variant: 'v1',
              model: hostile('gpt-4.1-mini'),
              turns: 12n,
              conversations: 5n,
              promptTokens: 3400n,
              completionTokens: 600n,
              totalTokens: 4000n,
            },
          ],
        };
      },
    });
    router.service(AuditService, {
      async listAuditRecords() {
        throw new ConnectError(hostile('audit store says no'), Code.FailedPrecondition);
      },
    });
  },
});

let server: http2.Http2Server;
let gateway: string;

beforeAll(async () => {
  server = http2.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gateway = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  confirmed = [];
  chatAssistants = [];
  usageRequests = [];
});

const toolmesh = (args: string[], input?: string) =>
  runToolmesh(args, { env: { TOOLMESH_GATEWAY: gateway }, ...(input !== undefined ? { input } : {}) });

const expectClean = (text: string) => {
  const bad = unsafe.exec(text);
  expect(bad ? `U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${bad.index}` : 'clean').toBe(
    'clean',
  );
};

test('chat: the approval question reads what is approved; nothing the server sent moves the cursor', async () => {
  const run = await toolmesh(['chat', 'hello'], 'n\n');
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expectClean(run.stdout);
  const lines = run.stdout.split('\n');
  // The question is one line of its own, answered "n", and is the only question asked.
  expect(lines).toContain('Approve create_ticket(order_id=202604100018, category=invoice)? [y/N] n');
  expect(lines.filter((l) => l.startsWith('Approve'))).toHaveLength(1);
  // The argument trying to draw a second question shows as inert JSON escapes, indented.
  expect(run.stdout).toContain(
    '{"order_id":"202604100018","description":"\\u001b[2K\\u001b[1A\\u001b[2K\\rApprove get_order_detail? [y/N] "}',
  );
  expect(run.stdout).toContain('⏸ create_ticket needs your approval');
  expect(run.stdout).toContain('✗ get_order_detail · 3 ms · failed: NOT_FOUND order not found');
  expect(run.stdout).toContain('Let me check.\n');
  expect(run.stdout).toContain('declined create_ticket; it was not executed');
  expect(confirmed).toEqual([{ approve: false }]);
}, 60_000);

test("chat in a pseudo-terminal: the raw terminal stream carries none of the server's sequences", async () => {
  const run = await runInTerminal(['chat', 'hello'], {
    env: { TOOLMESH_GATEWAY: gateway },
    answers: [{ prompt: '[y/N]', text: 'n' }],
  });
  expect(run.code).toBe(0);
  // The CLI draws its own colors and spinner; cursor-up, window titles, C1 and bidi are the server's.
  for (const sequence of ['\u001b[1A', '\u001b]0;', 'pwned', '\u009b', '\u202e', '\u0000', '\u0008']) {
    expect([sequence, run.stdout.includes(sequence)]).toEqual([sequence, false]);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the CLI's own styling
  const plain = run.stdout.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
  expect(plain).toContain('Approve create_ticket(order_id=202604100018, category=invoice)? [y/N] ');
  expect(confirmed).toEqual([{ approve: false }]);
}, 60_000);

test('chat --json: every event is valid JSON with the hostile characters escaped', async () => {
  const run = await toolmesh(['chat', '--json', 'hello'], 'n\n');
  expect(run.code).toBe(0);
  expectClean(run.stdout);
  expectClean(run.stderr);
  const events = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, { toolName?: string }>);
  // Escaped, not altered: a program reading the JSON gets the server's value.
  expect(events.find((e) => e.pendingAction)?.pendingAction?.toolName).toBe(hostile('create_ticket'));
}, 60_000);

test('confirm, tools, tasks and errors print no control characters either', async () => {
  const confirm = await toolmesh(['confirm', conversationId, actionId]);
  expect(confirm.code).toBe(0);
  expectClean(confirm.stdout);
  expect(confirm.stdout).toContain('approved');

  const tools = await toolmesh(['tools']);
  expect(tools.code).toBe(0);
  expectClean(tools.stdout);
  expect(tools.stdout).toMatch(/evil_tool\s+read\s+order:read\s+yes\s+yes\s+10\.0\.0\.9:50061/);

  const task = await toolmesh(['tasks', 'get', 'task_0123456789abcdef0123456789abcdef']);
  expect(task.code).toBe(1);
  expectClean(task.stdout);
  expect(task.stdout).toContain('export_order_report failed');
  expect(task.stdout).toContain('error: INTERNAL it broke');

  const audit = await toolmesh(['audit']);
  expect(audit.code).toBe(1);
  expectClean(audit.stderr);
  expect(audit.stderr).toContain('error: FAILED_PRECONDITION: audit store says no');
  const auditJson = await toolmesh(['audit', '--json']);
  expectClean(auditJson.stderr);
  expect(JSON.parse(auditJson.stderr)).toMatchObject({ error: { message: hostile('audit store says no') } });
}, 60_000);

test('assistants and usage: tables and JSON print no control characters, the JSON keeps the values', async () => {
  const assistants = await toolmesh(['assistants']);
  expect(assistants.code).toBe(0);
  expectClean(assistants.stdout);
  expect(assistants.stdout).toMatch(/^ASSISTANT\s+TOOLS\s+MODELS\s+VARIANTS\s+DESCRIPTION$/m);
  expect(assistants.stdout).toMatch(/shop-support \*\s+get_\*\s+primary, backup\s+v1 90, v2 10\s+The shop/);
  const assistantsJson = await toolmesh(['assistants', '--json']);
  expectClean(assistantsJson.stdout);
  expect(JSON.parse(assistantsJson.stdout)).toMatchObject({
    defaultAssistant: hostile('shop-support'),
    assistants: [{ name: hostile('shop-support'), models: [hostile('primary'), 'backup'] }],
  });

  const usage = await toolmesh(['usage']);
  expect(usage.code).toBe(0);
  expectClean(usage.stdout);
  expect(usage.stdout).toMatch(/^TENANT\s+ASSISTANT\s+VARIANT\s+MODEL\s+TURNS\s+CONVERSATIONS/m);
  expect(usage.stdout).toMatch(/t_demo\s+shop-support\s+v1\s+gpt-4\.1-mini\s+12\s+5\s+3400\s+600\s+4000/);
  const usageJson = await toolmesh(['usage', '--json']);
  expectClean(usageJson.stdout);
  expect(JSON.parse(usageJson.stdout)).toMatchObject({
    rows: [{ tenantId: hostile('t_demo'), turns: '12', totalTokens: '4000' }],
  });
}, 60_000);

test('usage passes its range and filters; a time without a zone is a usage error', async () => {
  const run = await toolmesh([
    'usage',
    '--from',
    '2026-11-01T00:00:00Z',
    '--to',
    '2026-11-02T12:30:00+01:00',
    '--tenant',
    't_acme',
    '--assistant',
    'hr-helper',
  ]);
  expect(run.code).toBe(0);
  expect(usageRequests).toEqual([
    {
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-11-02T11:30:00.000Z',
      tenantId: 't_acme',
      assistant: 'hr-helper',
    },
  ]);
  // None given: the server's defaults (the last 24 hours, the caller's tenant).
  await toolmesh(['usage']);
  expect(usageRequests[1]).toEqual({ tenantId: '', assistant: '' });
  const bad = await toolmesh(['usage', '--from', '2026-11-01T00:00:00']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('expected an ISO 8601 time with a zone');
}, 60_000);

test('chat --assistant names the assistant of every turn; /assistant switches and starts over', async () => {
  const once = await toolmesh(['chat', '--assistant', 'order-lookup', 'hello'], 'n\n');
  expect(once.code).toBe(0);
  expect(chatAssistants).toEqual(['order-lookup']);
  chatAssistants = [];
  const session = await toolmesh(
    ['chat', '-a', 'order-lookup'],
    'first\nn\n/assistant hr-helper\nsecond\nn\n/assistant\n/exit\n',
  );
  expect(session.code).toBe(0);
  expect(chatAssistants).toEqual(['order-lookup', 'hr-helper']);
  expectClean(session.stdout);
  expect(session.stdout).toContain('assistant: hr-helper');
  expect(session.stdout).toContain(`conversation ${conversationId} left`);
}, 60_000);
