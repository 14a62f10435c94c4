import { type ChatRun, measureChats } from './measure-chats.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import { seedExpectation, seedQuestion } from './seed-question.ts';
import { type BenchDatabase, benchApiKey, type SqlTotals, startBenchMesh } from './start-bench-mesh.ts';
import { startScriptedModel } from './start-scripted-model.ts';

/** The chat systems compared end to end. */
export type ChatSystem =
  | `toolmesh (${BenchDatabase})`
  | 'toolmesh (postgres, synchronous_commit=off)'
  | 'AI SDK in-process';

/** One system's runs, one per load level. */
export interface EndToEndResult {
  system: ChatSystem;
  runs: ChatRun[];
  /** SQL transactions per chat over the whole run (postgres only). */
  sqlTransactionsPerChat?: number;
  /**
   * The AI SDK agent at c32 measured right before and right after this mesh's runs: the VM's
   * speed drifts by the minute, so a mesh is compared with the agent around it, not minutes away.
   */
  agentAround?: { before: ChatRun; after: ChatRun };
}

const perChat = (sql: SqlTotals | undefined, chats: number) =>
  sql && chats > 0 ? { sqlTransactionsPerChat: sql.transactions / chats } : {};

/**
 * The whole mesh as `npm start` runs it (gateway auth and rate limits, orchestrator
 * with conversations, ledger and audit in SQL, the read cache, four tool services,
 * the scripted model), driven through the gateway's Chat RPC.
 */
export async function measureMeshEndToEnd(
  database: BenchDatabase,
  loops: LoopOptions[],
  synchronousCommit = true,
): Promise<EndToEndResult> {
  const mesh = await startBenchMesh({ database, synchronousCommit });
  const target = {
    kind: 'gateway-chat' as const,
    address: mesh.gateway,
    apiKey: benchApiKey,
    message: seedQuestion,
    expect: seedExpectation,
  };
  let measured: Awaited<ReturnType<typeof measureChats>>;
  try {
    measured = await measureChats(target, loops, { pids: mesh.pids(), sqlBackends: mesh.sqlBackends });
  } catch (error) {
    await mesh.stop();
    throw error;
  }
  const sql = await mesh.stop();
  const system: ChatSystem = synchronousCommit
    ? `toolmesh (${database})`
    : 'toolmesh (postgres, synchronous_commit=off)';
  return { system, runs: measured.runs, ...perChat(sql, measured.totalCalls) };
}

/**
 * The baseline: a Vercel AI SDK agent in the load generator's process, its tools
 * in memory, asking the same scripted model (its own process) the same question.
 */
export async function measureAiSdkEndToEnd(loops: LoopOptions[]): Promise<EndToEndResult> {
  const model = await startScriptedModel();
  try {
    const target = {
      kind: 'ai-sdk-agent' as const,
      baseUrl: model.baseUrl,
      message: seedQuestion,
      expect: seedExpectation,
    };
    const pids = { 'scripted-model': model.process.child.pid ?? 0 };
    const { runs } = await measureChats(target, loops, { pids });
    return { system: 'AI SDK in-process', runs };
  } finally {
    await model.stop();
  }
}
