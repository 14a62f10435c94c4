import { type ChatRun, type ChatRuns, measureChats } from './measure-chats.ts';
import { type ChatSystemInTurns, measureChatsInTurns } from './measure-chats-in-turns.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import { seedExpectation, seedQuestion } from './seed-question.ts';
import {
  type BenchDatabase,
  type BenchMesh,
  benchApiKey,
  type SqlTotals,
  startBenchMesh,
} from './start-bench-mesh.ts';
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
   * The AI SDK agent's runs, one per level, measured in turns with this mesh's (slices of
   * {@link chatSliceMs} from one load generator): the VM's speed drifts by the minute, so a mesh is
   * compared with the agent over the same minutes, not with a run minutes away.
   */
  agentInTurns?: ChatRun[];
}

/**
 * How long the mesh and the agent each drive their chats before the other takes over, in ms. Each
 * slice ends when its last chat has answered, with fewer callers in flight: long enough that this
 * tail (a chat's latency or two, ~0.1–0.3 s for the mesh at c32) stays a small share of a slice.
 */
export const chatSliceMs = 2_500;

/** Options of {@link measureMeshEndToEnd}. */
export interface MeshEndToEndOptions {
  /** false: `synchronous_commit=off` on the database (diagnostic). */
  synchronousCommit?: boolean;
  /** Measure the AI SDK agent in turns with the mesh, at every level. */
  agentInTurns?: boolean;
}

/** The seed question asked through `mesh`'s gateway, and the processes whose CPU its chats cost. */
export function meshChatSystem(name: string, mesh: BenchMesh): ChatSystemInTurns {
  return {
    name,
    target: {
      kind: 'gateway-chat',
      address: mesh.gateway,
      apiKey: benchApiKey,
      message: seedQuestion,
      expect: seedExpectation,
    },
    subjects: { pids: mesh.pids(), sqlBackends: mesh.sqlBackends },
  };
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
  options: MeshEndToEndOptions = {},
): Promise<EndToEndResult> {
  const synchronousCommit = options.synchronousCommit ?? true;
  const mesh = await startBenchMesh({ database, synchronousCommit });
  const meshSystem = meshChatSystem('mesh', mesh);
  let measured: ChatRuns;
  let agent: ChatRuns | undefined;
  try {
    if (options.agentInTurns) {
      [measured, agent] = await withAgent(async (agentSystem) => {
        const [meshRuns, agentRuns] = await measureChatsInTurns(
          [meshSystem, agentSystem],
          loops,
          chatSliceMs,
        );
        return [meshRuns as ChatRuns, agentRuns as ChatRuns] as const;
      });
    } else {
      measured = await measureChats(meshSystem.target, loops, meshSystem.subjects);
    }
  } catch (error) {
    await mesh.stop();
    throw error;
  }
  const sql = await mesh.stop();
  const system: ChatSystem = synchronousCommit
    ? `toolmesh (${database})`
    : 'toolmesh (postgres, synchronous_commit=off)';
  return {
    system,
    runs: measured.runs,
    ...perChat(sql, measured.totalCalls),
    ...(agent ? { agentInTurns: agent.runs } : {}),
  };
}

/**
 * The baseline: a Vercel AI SDK agent in the load generator's process, its tools
 * in memory, asking the same scripted model (its own process) the same question.
 */
export async function measureAiSdkEndToEnd(loops: LoopOptions[]): Promise<EndToEndResult> {
  return withAgent(async ({ target, subjects }) => {
    const { runs } = await measureChats(target, loops, subjects);
    return { system: 'AI SDK in-process', runs };
  });
}

// The agent with a scripted model process of its own, stopped when `use` is done.
async function withAgent<T>(use: (agent: ChatSystemInTurns) => Promise<T>): Promise<T> {
  const model = await startScriptedModel();
  try {
    return await use({
      name: 'AI SDK in-process',
      target: {
        kind: 'ai-sdk-agent',
        baseUrl: model.baseUrl,
        message: seedQuestion,
        expect: seedExpectation,
      },
      subjects: { pids: { 'scripted-model': model.process.child.pid ?? 0 } },
    });
  } finally {
    await model.stop();
  }
}
