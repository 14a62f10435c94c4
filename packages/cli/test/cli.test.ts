// The toolmesh CLI as a user runs it: a real process against a real mesh (every service
// its own process, the real Postgres, the scripted model), stdin piped or a pseudo-terminal.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freeMeshPorts, type Mesh, startMesh } from '@toolmesh/devstack';
import { createTestDatabase, freePort, type TestDatabase } from '@toolmesh/testkit';
import { type CliRun, runInTerminal, runToolmesh } from './run-toolmesh.ts';

let db: TestDatabase;
let mesh: Mesh;
let gateway: string;

beforeAll(async () => {
  db = await createTestDatabase();
  const ports = await freeMeshPorts();
  // The demo's assistants, as npm start runs them.
  mesh = await startMesh({
    ports,
    databaseUrl: db.url,
    assistantsFile: fileURLToPath(new URL('../../../config/assistants.yaml', import.meta.url)),
    env: { LOG_LEVEL: 'warn' },
  });
  gateway = mesh.grpcAddresses.gateway;
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await db?.drop();
}, 60_000);

const seedQuestion = 'Where is my order 202604100018? I also need an invoice for it.';

// Runs against the test mesh; the key defaults to the dev key, as for any loopback gateway.
const toolmesh = (args: string[], options: { input?: string; key?: string; linked?: boolean } = {}) =>
  runToolmesh(args, {
    env: { TOOLMESH_GATEWAY: gateway, ...(options.key ? { TOOLMESH_API_KEY: options.key } : {}) },
    ...(options.input !== undefined ? { input: options.input } : {}),
    ...(options.linked ? { linked: true } : {}),
  });

const conversationOf = (run: CliRun) => {
  const id = /conversation ([0-9a-f-]{36})/.exec(run.stdout)?.[1];
  if (!id) throw new Error(`no conversation id in:\n${run.stdout}\n${run.stderr}`);
  return id;
};

test('npx toolmesh --help works through the node_modules/.bin link', async () => {
  const run = await toolmesh(['--help'], { linked: true });
  expect(run.code).toBe(0);
  for (const command of ['chat', 'confirm', 'tools', 'tasks', 'audit', 'assistants', 'usage'])
    expect(run.stdout).toContain(command);
  expect(run.stdout).toContain('--gateway');
});

test('chat with piped stdin: tool calls, the pending action, "y" approves it and the ticket is created', async () => {
  const run = await toolmesh(['chat', seedQuestion], { input: 'y\n' });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  for (const tool of ['get_order_detail', 'get_inventory_snapshot', 'get_dispatch_plan']) {
    expect(run.stdout).toMatch(new RegExp(`✓ ${tool} .* · \\d+ ms`));
  }
  expect(run.stdout).toContain('Order 202604100018: status shipped');
  expect(run.stdout).toContain('⏸ create_ticket needs your approval');
  expect(run.stdout).toMatch(
    /Approve create_ticket\(order_id=202604100018, category=invoice.*\)\? \[y\/N\] y\n/,
  );
  expect(run.stdout).toMatch(/✓ create_ticket · \d+ ms/);
  expect(run.stdout).toMatch(/I opened invoice ticket T-[0-9A-F]+/);
  // No spinner off a terminal.
  expect(run.stdout).not.toMatch(/[⠋⠙⠹⠸]/);

  // The operator sees the approved write in the audit log, approved by the user.
  const conversation = conversationOf(run);
  const audit = await toolmesh(['audit', '--conversation', conversation, '--json'], {
    key: 'dev-key-operator',
  });
  expect(audit.code).toBe(0);
  const records = JSON.parse(audit.stdout) as { toolName: string; resultCode: string; approver?: string }[];
  expect(records).toContainEqual(
    expect.objectContaining({ toolName: 'create_ticket', resultCode: 'OK', approver: 'u_1001' }),
  );
  expect(records.map((r) => r.toolName)).toEqual(expect.arrayContaining(['get_order_detail']));
}, 90_000);

test('answering anything but y declines: nothing is executed', async () => {
  const run = await toolmesh(['chat', seedQuestion], { input: '\n' });
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('declined create_ticket; it was not executed');
  expect(run.stdout).not.toContain('✓ create_ticket');
  const audit = await toolmesh(['audit', '-c', conversationOf(run), '--tool', 'create_ticket', '--json'], {
    key: 'dev-key-operator',
  });
  expect(JSON.parse(audit.stdout)).toEqual([]);
}, 90_000);

test('end of input at the question leaves the action pending; toolmesh confirm decides it later', async () => {
  const run = await toolmesh(['chat', seedQuestion], { input: '' });
  expect(run.code).toBe(0);
  const hint = /toolmesh confirm ([0-9a-f-]{36}) ([0-9a-f-]{36})/.exec(run.stdout);
  expect(hint).not.toBeNull();
  const [, conversation = '', action = ''] = hint ?? [];
  const declined = await toolmesh(['confirm', conversation, action, '--decline']);
  expect(declined.code).toBe(0);
  expect(declined.stdout).toContain('declined; the action was not executed');
}, 90_000);

test('interactive session from a pipe: each line is a message, --conversation continues one', async () => {
  const first = await toolmesh(['chat'], { input: 'Where is my order 202604100018?\n/exit\n' });
  expect(first.code).toBe(0);
  expect(first.stdout).toContain('you> Where is my order 202604100018?\n');
  expect(first.stdout).toMatch(/✓ get_order_detail/);
  const conversation = conversationOf(first);
  const second = await toolmesh(['chat', '--conversation', conversation], {
    input: 'And where is my order 202604100018 now?\n',
  });
  expect(second.code).toBe(0);
  expect(second.stdout).toContain(`conversation ${conversation}`);
  expect(second.stdout).toContain('202604100018');
}, 90_000);

test('chat --json prints one JSON event per line and keeps the question off stdout', async () => {
  const run = await toolmesh(['chat', '--json', seedQuestion], { input: 'n\n' });
  expect(run.code).toBe(0);
  const events = run.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const kinds = new Set(events.map((e) => Object.keys(e)[0]));
  for (const kind of [
    'textDelta',
    'toolCallStarted',
    'toolCallFinished',
    'pendingAction',
    'final',
    'confirm',
  ]) {
    expect(kinds).toContain(kind);
  }
  expect(run.stderr).toContain('Approve create_ticket');
}, 90_000);

test('chat in a pseudo-terminal: a spinner while tools run, the question answered at the prompt', async () => {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('`script` (util-linux) is needed for the pseudo-terminal test: apt-get install bsdutils');
  }
  const run = await runInTerminal(['chat', seedQuestion], {
    env: { TOOLMESH_GATEWAY: gateway },
    answers: [{ prompt: '[y/N]', text: 'y' }],
  });
  expect(run.code).toBe(0);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips the terminal's escape sequences
  const plain = run.stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
  expect(plain).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] get_order_detail/);
  expect(plain).toMatch(/✓ get_order_detail/);
  expect(plain).toContain('Approve create_ticket');
  expect(plain).toMatch(/✓ create_ticket|✗ create_ticket .*FAILED_PRECONDITION/);
}, 90_000);

test('tools: the registry with permissions, replicas and breakers (--json and the table)', async () => {
  // Replicas and breakers map the internal network: an operator's view (registry:admin).
  const json = await toolmesh(['tools', '--json'], { key: 'dev-key-operator' });
  expect(json.stderr).toBe('');
  expect(json.code).toBe(0);
  const registry = JSON.parse(json.stdout) as {
    tools: { definition: { name: string }; addresses: string[]; permitted?: boolean; available?: boolean }[];
    endpoints: { address: string; breakerState: string }[];
    discovery: string;
  };
  const names = registry.tools.map((t) => t.definition.name);
  expect(names).toEqual(
    expect.arrayContaining([
      'get_order_detail',
      'get_inventory_snapshot',
      'get_dispatch_plan',
      'create_ticket',
    ]),
  );
  const order = registry.tools.find((t) => t.definition.name === 'get_order_detail');
  expect(order).toMatchObject({ addresses: [mesh.grpcAddresses.order], available: true });
  expect(registry.endpoints.map((e) => e.breakerState)).toContain('BREAKER_STATE_CLOSED');

  const table = await toolmesh(['tools'], { key: 'dev-key-operator' });
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/get_order_detail\s+read\s+order:read\s+no\s+yes\s+\S+ \(closed\)/);
  expect(table.stdout).toMatch(/create_ticket\s+write\s+ticket:write/);

  // A user sees what it may use, not where it runs.
  const mine = await toolmesh(['tools']);
  expect(mine.stdout).toMatch(/get_order_detail\s+read\s+order:read\s+yes\s+yes\s+-/);
  expect(mine.stdout).toContain('replicas and breakers are shown to operators');

  // The read-only key may not write: create_ticket is listed but not permitted.
  const readonly = await toolmesh(['tools'], { key: 'dev-key-readonly' });
  expect(readonly.stdout).toMatch(/create_ticket\s+write\s+ticket:write\s+no/);
});

test('tools over gRPC-Web and Connect (HTTP/1.1) give the same answer', async () => {
  for (const protocol of ['grpc-web', 'connect']) {
    const run = await toolmesh(['--protocol', protocol, 'tools']);
    expect([protocol, run.code]).toEqual([protocol, 0]);
    expect(run.stdout).toContain('get_order_detail');
  }
});

test('tasks get and tasks watch follow an async tool', async () => {
  const chat = await toolmesh(['chat', '--json', 'Please export a report of order 202604100018.']);
  expect(chat.code).toBe(0);
  const taskId = /task_[0-9a-f]+/.exec(chat.stdout)?.[0];
  expect(taskId).toBeDefined();
  const watch = await toolmesh(['tasks', 'watch', taskId as string]);
  expect(watch.code).toBe(0);
  expect(watch.stdout).toMatch(new RegExp(`${taskId} export_order_report succeeded 100%`));
  expect(watch.stdout).toContain('result: {');
  const get = await toolmesh(['tasks', 'get', taskId as string, '--json']);
  expect(get.code).toBe(0);
  expect(JSON.parse(get.stdout)).toMatchObject({ taskId, status: 'TASK_STATUS_SUCCEEDED' });
  // Another user may not see it.
  const other = await toolmesh(['tasks', 'get', taskId as string], { key: 'dev-key-u2002' });
  expect(other.code).toBe(1);
  expect(other.stderr).toMatch(/error: (NOT_FOUND|PERMISSION_DENIED)/);
}, 90_000);

test('audit: records for an operator, a clear PERMISSION_DENIED for everyone else', async () => {
  await toolmesh(['chat', 'Where is my order 202604100018?']);
  const run = await toolmesh(['audit', '--limit', '5'], { key: 'dev-key-operator' });
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^TIME \(UTC\)\s+USER\s+TOOL\s+RESULT/);
  expect(run.stdout).toMatch(/u_1001\s+get_\w+\s+OK/);
  expect(run.stdout.trim().split('\n').length).toBeLessThanOrEqual(6);

  const denied = await toolmesh(['audit']);
  expect(denied.code).toBe(1);
  expect(denied.stderr).toContain('error: PERMISSION_DENIED');
  expect(denied.stderr).toContain('hint: reading the audit log needs the audit:read permission');
}, 90_000);

test('assistants, chat --assistant and usage against the demo assistants file', async () => {
  const list = await toolmesh(['assistants']);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/^ASSISTANT\s+TOOLS\s+MODELS/);
  expect(list.stdout).toMatch(/^shop-support \*\s+\(all yours\)/m);
  expect(list.stdout).toMatch(/^order-lookup\s+get_order_detail, get_dispatch_plan, get_inventory_snapshot/m);
  const json = JSON.parse((await toolmesh(['assistants', '--json'])).stdout) as {
    defaultAssistant: string;
    assistants: { name: string }[];
  };
  expect(json.defaultAssistant).toBe('shop-support');
  expect(json.assistants.map((a) => a.name)).toEqual(['shop-support', 'order-lookup']);

  const run = await toolmesh(['chat', '--assistant', 'order-lookup', 'Where is my order 202604100018?']);
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/✓ get_order_detail/);
  const unknown = await toolmesh(['chat', '--assistant', 'no-such-assistant', 'hello']);
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('error: NOT_FOUND');

  const usage = await toolmesh(['usage', '--assistant', 'order-lookup', '--json'], {
    key: 'dev-key-operator',
  });
  expect(usage.code).toBe(0);
  const rows = (
    JSON.parse(usage.stdout) as { rows: { tenantId: string; assistant: string; turns: string }[] }
  ).rows;
  expect(rows.length).toBeGreaterThan(0);
  for (const row of rows) expect(row).toMatchObject({ tenantId: 't_demo', assistant: 'order-lookup' });
  const table = await toolmesh(['usage'], { key: 'dev-key-operator' });
  expect(table.stdout).toMatch(/^TENANT\s+ASSISTANT\s+VARIANT\s+MODEL\s+TURNS/);
  expect(table.stdout).toMatch(/^t_demo\s+shop-support\s+/m);
  const denied = await toolmesh(['usage']);
  expect(denied.code).toBe(1);
  expect(denied.stderr).toContain('error: PERMISSION_DENIED');
  expect(denied.stderr).toContain('hint: reading usage needs the usage:read permission');
}, 90_000);

test('errors: a bad key is UNAUTHENTICATED with a hint, a dead gateway UNAVAILABLE, no key for a remote gateway is a usage error', async () => {
  const bad = await toolmesh(['chat', 'hello'], { key: 'not-a-key' });
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('error: UNAUTHENTICATED');
  expect(bad.stderr).toContain('hint: pass a valid key with --api-key');
  const badFlag = await toolmesh(['--api-key', 'not-a-key', 'tools', '--json']);
  expect(badFlag.code).toBe(1);
  expect(JSON.parse(badFlag.stderr)).toMatchObject({ error: { code: 'UNAUTHENTICATED' } });

  const deadPort = await freePort();
  const dead = await runToolmesh(['--gateway', `127.0.0.1:${deadPort}`, 'tools']);
  expect(dead.code).toBe(1);
  expect(dead.stderr).toContain('error: UNAVAILABLE');
  expect(dead.stderr).toContain(`hint: is the gateway running at http://127.0.0.1:${deadPort}?`);

  const remote = await runToolmesh(['--gateway', 'https://gateway.example.com', 'tools']);
  expect(remote.code).toBe(2);
  expect(remote.stderr).toContain('no API key for https://gateway.example.com');
});
