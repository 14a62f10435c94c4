import { create } from '@bufbuild/protobuf';
import { type Database, migrate, openDatabase } from '@toolmesh/db';
import { PrincipalSchema } from '@toolmesh/proto';
import { createTestDatabase, type TestDatabase } from '@toolmesh/testkit';
import type { StoredMessage } from '../src/core-types.ts';
import { createConversationStore, migrations, schema } from '../src/store/index.ts';

const u1001 = create(PrincipalSchema, { userId: 'u_1001', tenantId: 't_demo', permissions: [] });
const u2002 = create(PrincipalSchema, { userId: 'u_2002', tenantId: 't_demo', permissions: [] });
// The same user id in another tenant: another person.
const otherU1001 = create(PrincipalSchema, { userId: 'u_1001', tenantId: 't_other', permissions: [] });
const lease = (token: string) => ({ leaseMs: 30_000, token });

let testDb: TestDatabase;
let db: Database;
let store: ReturnType<typeof createConversationStore>;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = await openDatabase({ url: testDb.url });
  await migrate(db.pool, { schema, migrations });
  store = createConversationStore(db.pool);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

test('a new conversation is created held, with its first messages, in one statement', async () => {
  const first: StoredMessage[] = [{ role: 'user', content: 'hello' }];
  const { conversationId, messages } = await store.createHeld(u1001, lease('t1'), first);
  expect(messages).toEqual(first);
  expect(await store.load(conversationId)).toEqual(first);
  // Held: nobody else gets it until it is released.
  expect(await store.tryAcquire(conversationId, 30_000, 't2')).toBe(false);
  expect(await store.acquireOwned(conversationId, u1001, lease('t2'))).toBe('busy');
  await store.release(conversationId, 't1');
  expect(await store.acquireOwned(conversationId, u2002, lease('t2'))).toBe('not_found');
  // Another tenant's u_1001 is told exactly what a missing conversation tells.
  expect(await store.acquireOwned(conversationId, otherU1001, lease('t2'))).toBe('not_found');
  expect(await store.acquireOwned(conversationId, otherU1001, lease('t2'))).toBe('not_found');
  expect(await store.acquireOwned(conversationId, u1001, lease('t2'))).toBe('acquired');
  expect(await store.acquireOwned('00000000-0000-4000-8000-000000000000', u1001, lease('t3'))).toBe(
    'not_found',
  );
});

test('append stores many messages in order and answers them as load reads them back', async () => {
  const { conversationId } = await store.createHeld(u1001, lease('t1'), []);
  const turn: StoredMessage[] = [
    { role: 'note', content: 'note' },
    { role: 'user', content: 'nul \u0000 here' },
    {
      role: 'assistant',
      content: null,
      toolCalls: [
        { id: 'call_1', name: 'get_order_detail', arguments: '{"order_id":"202604100018"}' },
        { id: 'call_2', name: 'get_dispatch_plan', arguments: '{}' },
      ],
    },
    { role: 'tool', toolCallId: 'call_1', content: '{"status":"shipped"}' },
    { role: 'tool', toolCallId: 'call_2', content: 'it\'s "quoted" {,}' },
  ];
  const appended = await store.append(conversationId, turn.slice(0, 3));
  appended.push(...(await store.append(conversationId, turn.slice(3))));
  appended.push(...(await store.append(conversationId, [])));
  appended.push(
    ...(await store.append(conversationId, [{ role: 'assistant', content: 'done', toolCalls: [] }])),
  );
  expect(await store.load(conversationId)).toEqual(appended);
  expect(appended[1]).toEqual({ role: 'user', content: 'nul \ufffd here' });
  expect(appended).toHaveLength(6);
  // One result per call stays enforced.
  await expect(
    store.append(conversationId, [{ role: 'tool', toolCallId: 'call_1', content: 'again' }]),
  ).rejects.toMatchObject({ code: '23505' });
});
