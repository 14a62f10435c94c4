import { runInLoadWorker } from './fork-load-worker.ts';
import type { ConversationJobResult, TurnRecord } from './load-job.ts';
import { seedQuestion } from './seed-question.ts';
import { type BenchDatabase, benchApiKey, startBenchMesh } from './start-bench-mesh.ts';
import { summarize } from './summarize.ts';

/** Results of {@link measureLongConversation}. */
export interface LongConversationResult {
  turns: TurnRecord[];
  errors: number;
  firstError?: string;
  /** Prompt tokens of the first turn, and the largest and last ones. */
  promptTokens: { first: number; max: number; last: number; maxAtTurn: number };
  /** Latency (p50, ms) of the first and the last tenth of the turns. */
  latencyP50Ms: { firstTenth: number; lastTenth: number };
}

/**
 * One conversation of `turns` turns on the mesh as `npm start` runs it, each turn
 * asking the seed question again: the prompt tokens of each turn (usage in
 * ChatResponse, 3 model calls a turn) show whether the history is bounded, and the
 * latency whether a turn gets slower.
 */
export async function measureLongConversation(
  database: BenchDatabase,
  turns: number,
): Promise<LongConversationResult> {
  const mesh = await startBenchMesh({ database });
  let result: ConversationJobResult;
  try {
    result = await runInLoadWorker<ConversationJobResult>(
      { type: 'conversation', address: mesh.gateway, apiKey: benchApiKey, message: seedQuestion, turns },
      turns * 5_000 + 60_000,
    );
  } finally {
    await mesh.stop();
  }
  const tokens = result.turns.map((t) => t.promptTokens);
  const max = Math.max(0, ...tokens);
  const tenth = Math.max(1, Math.floor(result.turns.length / 10));
  const latencies = result.turns.map((t) => t.latencyMs);
  return {
    ...result,
    promptTokens: {
      first: tokens[0] ?? 0,
      max,
      last: tokens.at(-1) ?? 0,
      maxAtTurn: tokens.indexOf(max) + 1,
    },
    latencyP50Ms: {
      firstTenth: summarize(latencies.slice(0, tenth)).p50Ms,
      lastTenth: summarize(latencies.slice(-tenth)).p50Ms,
    },
  };
}
