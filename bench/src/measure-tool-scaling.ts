import { createBenchMeshKeys } from './bench-mesh-keys.ts';
import { type ChatRun, measureChats } from './measure-chats.ts';
import type { LoopOptions } from './run-closed-loop.ts';
import { seedExpectation, seedQuestion } from './seed-question.ts';
import { type BenchDatabase, benchApiKey, startBenchMesh } from './start-bench-mesh.ts';
import { startChild } from './start-child.ts';

/** One tool count's run. */
export interface ToolScalingRow {
  /** Tools of the extra service, on top of the demo services' own. */
  extraTools: number;
  run: ChatRun;
}

/**
 * Chats/s of the seed question while an extra tool service publishes `count`
 * more read tools that the user may run — so they are registered, validated,
 * and offered to the model on every request, as real tools would be. The extra
 * service verifies the mesh's credentials like the demo services: the mesh is started
 * with keys made here, whose JWKS it is given. Rows in the order measured: every count,
 * then the first count again.
 */
export async function measureToolScaling(
  counts: number[],
  loop: LoopOptions,
  database: BenchDatabase,
): Promise<ToolScalingRow[]> {
  const rows: ToolScalingRow[] = [];
  const keys = await createBenchMeshKeys();
  try {
    // The first level again at the end: the VM's speed drifts over the minutes the levels take,
    // so the largest is compared with the first measured before and after it.
    const levels = counts.length > 1 ? [...counts, counts[0] as number] : counts;
    for (const count of levels) {
      const tools = await startChild('./tool-service-main.ts', [
        '--dummies',
        String(count),
        '--permission',
        'order:read',
        '--jwks',
        keys.files.jwksFile,
      ]);
      try {
        const mesh = await startBenchMesh({
          database,
          extraToolServices: [tools.address],
          meshKeys: keys.files,
        });
        try {
          const target = {
            kind: 'gateway-chat' as const,
            address: mesh.gateway,
            apiKey: benchApiKey,
            message: seedQuestion,
            expect: seedExpectation,
          };
          const { runs } = await measureChats(target, [loop], {
            pids: { ...mesh.pids(), 'bench tools': tools.pid },
            sqlBackends: mesh.sqlBackends,
          });
          const [run] = runs;
          if (run) rows.push({ extraTools: count, run });
        } finally {
          await mesh.stop();
        }
      } finally {
        await tools.stop();
      }
    }
  } finally {
    await keys.remove();
  }
  return rows;
}
