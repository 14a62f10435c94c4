// Assistants in production shape, against real processes: a primary model that is down and a
// fallback that answers; a tenant over its token budget refused before the model is asked; a
// gray release whose variant is chosen once per conversation and kept.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { ChatService } from '@toolmesh/proto';
import { readErrorInfo } from '@toolmesh/rpc';
import {
  type CannedModel,
  type CannedRequest,
  createTestDatabase,
  freePort,
  startCannedModel,
  type TestDatabase,
} from '@toolmesh/testkit';
import { freeMeshPorts, type Mesh, startMesh } from '../src/index.ts';
import { gatewayTransport } from './gateway-transport.ts';

type ModelBody = CannedRequest & { model?: string };

const permissions = ['order:read', 'inventory:read', 'dispatch:read', 'ticket:read'];
const keys = {
  'release-test-key-demo-0001': { user_id: 'u_1001', tenant_id: 't_demo', permissions },
  'release-test-key-small-001': { user_id: 'u_1001', tenant_id: 't_small', permissions },
};

let dir: string;
let db: TestDatabase;
let model: CannedModel;
let mesh: Mesh;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'toolmesh-release-'));
  model = await startCannedModel(() => ({ content: 'canned answer' }));
  // Nothing listens there: every request to the primary fails to connect.
  const downPort = await freePort();
  const file = join(dir, 'assistants.yaml');
  await writeFile(
    file,
    `
models:
  - name: primary
    base_url: http://127.0.0.1:${downPort}/v1
    model: m-primary
  - name: backup
    base_url: ${model.baseUrl}
    model: m-backup
assistants:
  - name: steady
    instructions: STEADY
    model: primary
    fallback_models: [backup]
  - name: split
    instructions: SPLIT-A
    variants:
      - { name: a, weight: 50 }
      - { name: b, weight: 50, instructions: SPLIT-B }
default: split
tenants:
  t_small: { tokens_per_day: 10 }
`,
  );
  db = await createTestDatabase();
  mesh = await startMesh({
    ports: await freeMeshPorts(),
    databaseUrl: db.url,
    model: { baseUrl: model.baseUrl },
    assistantsFile: file,
    env: { LOG_LEVEL: 'warn' },
    serviceEnv: {
      // Many turns in a row by one user: the per-user chat rate is not what this test is about.
      gateway: {
        TOOLMESH_API_KEYS: JSON.stringify(keys),
        CHAT_RATE_PER_SEC: '1000',
        CHAT_RATE_BURST: '1000',
      },
    },
  });
}, 120_000);

afterAll(async () => {
  await mesh?.stop();
  await model?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

const chat = (key: keyof typeof keys) =>
  createClient(ChatService, gatewayTransport(mesh.grpcAddresses.gateway, key));
const sentSince = (before: number) => model.requests.slice(before) as ModelBody[];

test('the primary model is down: the fallback answers, and the turn says which model did', async () => {
  for (const message of ['first', 'second']) {
    const before = model.requests.length;
    const res = await chat('release-test-key-demo-0001').chat({ message, assistant: 'steady' });
    expect(res.reply).toBe('canned answer');
    expect(res.usage).toMatchObject({ assistant: 'steady', model: 'm-backup' });
    const sent = sentSince(before);
    expect(sent.map((r) => r.model)).toEqual(['m-backup']);
    expect(sent[0]?.messages[0]).toEqual({ role: 'system', content: 'STEADY' });
  }
}, 120_000);

test('a tenant over its token budget is refused before the model is asked, with when to retry', async () => {
  // The canned model reports 15 tokens a call: the first turn spends the day's 10.
  const small = chat('release-test-key-small-001');
  await small.chat({ message: 'hello', assistant: 'steady' });
  const before = model.requests.length;
  const refused = await small.chat({ message: 'again', assistant: 'steady' }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(ConnectError);
  expect((refused as ConnectError).code).toBe(Code.ResourceExhausted);
  const info = readErrorInfo(refused);
  expect(info?.reason).toBe('TENANT_BUDGET_EXHAUSTED');
  expect(info?.retryAfterMs).toBeGreaterThan(0);
  expect(sentSince(before)).toEqual([]);
  // Another tenant is not affected.
  await expect(
    chat('release-test-key-demo-0001').chat({ message: 'hi', assistant: 'steady' }),
  ).resolves.toBeDefined();
}, 120_000);

test('gray release: each conversation gets one variant and keeps it; both variants are in use', async () => {
  const seen = new Map<string, number>();
  const client = chat('release-test-key-demo-0001');
  for (let i = 0; i < 24; i++) {
    const before = model.requests.length;
    const first = await client.chat({ message: `hello ${i}` });
    const second = await client.chat({ conversationId: first.conversationId, message: 'and again' });
    const variant = first.usage?.variant ?? '';
    expect(second.usage?.variant).toBe(variant);
    const prompts = sentSince(before).map((r) => r.messages[0]?.content);
    // The variant's own instructions on every turn of the conversation.
    expect(prompts).toEqual(variant === 'b' ? ['SPLIT-B', 'SPLIT-B'] : ['SPLIT-A', 'SPLIT-A']);
    seen.set(variant, (seen.get(variant) ?? 0) + 1);
  }
  // 50/50 over 24 conversations: one variant missing would be a 1 in 8 million chance.
  expect([...seen.keys()].sort()).toEqual(['a', 'b']);
}, 180_000);
