import { createToolCredentials } from '@toolmesh/orchestrator';
import { ToolService } from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import { createBenchIssuer } from './bench-mesh-keys.ts';
import { benchPrincipal } from './bench-principal.ts';
import type { CallTarget } from './call-target.ts';

/**
 * InvokeTool through @toolmesh/rpc's client (its grpc-js transport), as the orchestrator's
 * endpoints do, each call with its own credential signed as the orchestrator signs it.
 */
export function createToolClientTarget(
  address: string,
  toolName: string,
  argumentsJson: string,
  signingKeyFile: string,
): CallTarget {
  const client = createGrpcClient(ToolService, { address, defaultTimeoutMs: 30_000 });
  const credentials = createToolCredentials(createBenchIssuer(signingKeyFile), { isReadTool: () => true });
  let n = 0;
  return {
    counters: {},
    async call() {
      const toolCallId = `call_${++n}`;
      const headers = await credentials.forCall({
        principal: benchPrincipal,
        requestId: toolCallId,
        toolName,
        toolCallId,
        idempotencyKey: '',
      });
      const res = await client.invokeTool(
        { toolCallId, toolName, argumentsJson, idempotencyKey: '' },
        // What invokeTool sets: the tool's timeout plus a second for the hop.
        { timeoutMs: 4_000, headers },
      );
      if (res.outcome.case !== 'resultJson') throw new Error(`tool failed: ${res.outcome.value?.message}`);
    },
    close: async () => {},
  };
}
