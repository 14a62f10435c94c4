// The CLI as a user runs it (a real process, stdin piped) against a gateway whose every
// string carries terminal escape sequences, control characters and bidi overrides, as a
// model, a tool service or another user could put them there. Nothing of them may reach
// the terminal, and the approval question must read exactly what will be approved.
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { durationFromMs, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  AuditService,
  ChatService,
  RegistryService,
  SideEffect,
  TaskService,
  TaskStatus,
  ToolErrorCode,
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
      async *chatStream() {
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
