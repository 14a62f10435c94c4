// SQL transactions per chat on the real Postgres, counted exactly (a wrapped pool, see
// counting-pool): the seed question — 3 model calls, 3 read tool calls, a new
// conversation — costs at most 3 transactions alone, and at most 1 on average when
// 32 run at once (group commit). And every record the guarantees need is there when
// the answer is: the messages, each read's ledger row and audit record as the user,
// the usage row, the lease given back.
import { createManualClock } from '@toolmesh/clock';
import { createLogger } from '@toolmesh/telemetry';
import { neutralCatalog } from '../src/assistants/index.ts';
import { createChatEngine } from '../src/chat-engine.ts';
import { createModelPool, type ModelRequest } from '../src/model/index.ts';
import {
  createChatRequestStore,
  createConversationStore,
  createExecutionLedger,
  createPendingActionStore,
  createUsageStore,
} from '../src/store/index.ts';
import { createToolExecutor } from '../src/tools/index.ts';
import { countingPool } from './support/counting-pool.ts';
import { createScriptedModel, toolCall } from './support/scripted-model.ts';
import { principal, scriptedBackend, turnOf } from './support/test-engine.ts';
import { createToolWorld, type WorldTool } from './support/tool-world.ts';
import { useOrchestratorDatabase } from './support/use-orchestrator-database.ts';

const db = useOrchestratorDatabase();

const read = (name: string, allowParallel = false): WorldTool => ({
  name,
  permission: 'order:read',
  allowParallel,
  run: async () => ({ ok: name }),
});

// The seed question as the scripted model plans it: one read, then two side by side, then the answer.
const seedPlan = (_r: ModelRequest, step: number) => {
  if (step === 0) return { toolCalls: [toolCall('get_order_detail', { order_id: '202604100018' })] };
  if (step === 1) {
    return {
      toolCalls: [
        toolCall('get_inventory_snapshot', { skus: ['SKU-1001'] }),
        toolCall('get_dispatch_plan', { order_id: '202604100018' }),
      ],
    };
  }
  return { content: 'Your order shipped.' };
};

function orchestrator() {
  const counted = countingPool(db.pool);
  const { pool } = counted;
  const clock = createManualClock();
  const logger = createLogger({ service: 'orchestrator-test', level: 'silent' });
  const world = createToolWorld([
    read('get_order_detail'),
    read('get_inventory_snapshot', true),
    read('get_dispatch_plan', true),
  ]);
  const ledger = createExecutionLedger(pool);
  const usage = createUsageStore(pool, { clock });
  const model = createScriptedModel(seedPlan);
  const catalog = neutralCatalog(scriptedBackend);
  const engine = createChatEngine({
    conversations: createConversationStore(pool),
    actions: createPendingActionStore(pool),
    chatRequests: createChatRequestStore(pool, { replica: ledger.owner }),
    registry: world.registry,
    executor: createToolExecutor({
      logger,
      ledger,
      clock,
      credentials: { forCall: async () => ({}), forTask: async () => ({}), forRegistry: async () => ({}) },
    }),
    models: createModelPool({ create: () => model }),
    assistants: { current: () => catalog },
    observer: { turnEnded: (turn) => usage.record(turn) },
    logger,
    maxRounds: 4,
    approvalTtlSeconds: 900,
    limits: {
      maxToolCallsPerRound: 8,
      maxArgumentBytes: 16_384,
      maxToolOutputChars: 8_000,
      contextBudgetTokens: 12_000,
      maxOfferedTools: 32,
    },
    clock,
  });
  return { engine, counted };
}

const u1001 = principal();

/** What SQL holds for a conversation once its chat was answered. */
async function recordsOf(conversationId: string) {
  const one = async (sql: string) =>
    Number((await db.pool.query<{ n: number }>(sql, [conversationId])).rows[0]?.n ?? -1);
  return {
    messages: await one('SELECT count(*)::int AS n FROM orchestrator.messages WHERE conversation_id = $1'),
    executionsDone: await one(
      "SELECT count(*)::int AS n FROM orchestrator.tool_executions WHERE conversation_id = $1 AND status = 'done'",
    ),
    auditAsUser: await one(
      `SELECT count(*)::int AS n FROM orchestrator.audit_log
        WHERE conversation_id = $1 AND user_id = '${u1001.userId}' AND tenant_id = '${u1001.tenantId}'
          AND result_code = 'OK'`,
    ),
    usageRows: await one('SELECT count(*)::int AS n FROM orchestrator.turn_usage WHERE conversation_id = $1'),
    held: await one(
      'SELECT count(*)::int AS n FROM orchestrator.conversations WHERE conversation_id = $1 AND lock_token IS NOT NULL',
    ),
  };
}

const answered = { messages: 7, executionsDone: 3, auditAsUser: 3, usageRows: 1, held: 0 };

test('one seed chat at a time costs at most 3 SQL transactions, with every record in place', async () => {
  const { engine, counted } = orchestrator();
  for (let i = 0; i < 3; i++) {
    const before = counted.transactions();
    const response = await engine.chat(turnOf(u1001), '', 'Where is my order 202604100018?');
    const spent = counted.transactions() - before;
    expect(response.toolExecutions.map((e) => e.success)).toEqual([true, true, true]);
    // The conversation with the first round, the second round, the answer with usage and release.
    expect(spent).toBeLessThanOrEqual(3);
    expect(await recordsOf(response.conversationId)).toEqual(answered);
  }
});

test('32 seed chats at once cost at most 1 SQL transaction each on average (group commit)', async () => {
  const { engine, counted } = orchestrator();
  const before = counted.transactions();
  const responses = await Promise.all(
    Array.from({ length: 32 }, () => engine.chat(turnOf(u1001), '', 'Where is my order 202604100018?')),
  );
  const perChat = (counted.transactions() - before) / responses.length;
  // Unbatched this would be 3 per chat; the 32 turns' writes share flushes (3 in all here,
  // as the turns move in step: no I/O but SQL).
  expect(perChat).toBeLessThanOrEqual(1);
  for (const response of responses) {
    expect(response.toolExecutions.map((e) => e.success)).toEqual([true, true, true]);
    expect(await recordsOf(response.conversationId)).toEqual(answered);
  }
});
