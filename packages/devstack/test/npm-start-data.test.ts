// The embedded database of `npm start` keeps its data across runs in its data folder
// (a temporary one here, never the repository's .toolmesh/), and `--fresh` starts from empty.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ChatService } from '@toolmesh/proto';
import pg from 'pg';
import { type Launcher, startLauncher } from './start-launcher.ts';

let dataDir: string;
let launcher: Launcher | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'toolmesh-data-'));
});

afterEach(async () => {
  await launcher?.stop();
  launcher = undefined;
}, 30_000);

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const chat = (running: Launcher) => {
  const client = createClient(
    ChatService,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${running.ports.GATEWAY}`, defaultTimeoutMs: 30_000 }),
  );
  const headers = { authorization: 'Bearer dev-key-u1001' };
  return {
    chat: (message: string, conversationId = '') => client.chat({ message, conversationId }, { headers }),
    confirm: (conversationId: string, actionId: string) =>
      client.confirm({ conversationId, actionId, approve: true }, { headers }),
  };
};

const seedRows = async (running: Launcher) => {
  const sql = new pg.Client({
    connectionString: `postgres://postgres@127.0.0.1:${running.ports.EMBEDDED_DB}/postgres`,
  });
  await sql.connect();
  try {
    const { rows } = await sql.query<{ orders: number; stock: number }>(
      `SELECT (SELECT count(*)::int FROM orders.orders) AS orders, (SELECT count(*)::int FROM inventory.stock) AS stock`,
    );
    return rows[0];
  } finally {
    await sql.end();
  }
};

let conversationId = '';
let ticketList = '';

test('first run: new data folder; an approved ticket is created', async () => {
  launcher = await startLauncher({ dataDir });
  expect(launcher.output()).toContain(`data: ${dataDir} (new; kept for the next run)`);
  const client = chat(launcher);
  const first = await client.chat('Where is my order 202604100018? I also need an invoice for it.');
  const action = first.pendingActions[0];
  expect(action?.toolName).toBe('create_ticket');
  const done = await client.confirm(first.conversationId, action?.actionId ?? '');
  expect(done.toolExecutions.map((e) => [e.toolName, e.success])).toEqual([['create_ticket', true]]);
  conversationId = first.conversationId;
  ticketList = (await client.chat('Show my tickets')).reply;
  expect(ticketList).toMatch(/invoice for order 202604100018/);
}, 120_000);

test('second run on the same folder: the ticket and the conversation are still there, the seed is not repeated', async () => {
  launcher = await startLauncher({ dataDir });
  expect(launcher.output()).toContain(`data: ${dataDir} (kept from the last run`);
  const client = chat(launcher);
  expect((await client.chat('Show my tickets')).reply).toBe(ticketList);
  // The conversation continues: unknown conversations are refused, this one answers.
  const next = await client.chat('Where is my order 202604100018?', conversationId);
  expect(next.conversationId).toBe(conversationId);
  expect(await seedRows(launcher)).toEqual({ orders: 2, stock: 3 });
}, 120_000);

test('--fresh starts from empty', async () => {
  launcher = await startLauncher({ dataDir, args: ['--fresh'] });
  expect(launcher.output()).toContain(`data: ${dataDir} (fresh: started from empty)`);
  expect((await chat(launcher).chat('Show my tickets')).reply).toBe("You don't have any tickets.");
  expect(await seedRows(launcher)).toEqual({ orders: 2, stock: 3 });
}, 120_000);
