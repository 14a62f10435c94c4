import { ToolService } from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import { benchPrincipal } from './bench-principal.ts';
import type { CallTarget } from './call-target.ts';

/** InvokeTool through @toolmesh/rpc's client (connect-node gRPC transport), as the orchestrator's endpoints do. */
export function createToolClientTarget(address: string, toolName: string, argumentsJson: string): CallTarget {
  const client = createGrpcClient(ToolService, { address, defaultTimeoutMs: 30_000 });
  let n = 0;
  return {
    counters: {},
    async call() {
      const res = await client.invokeTool(
        {
          toolCallId: `call_${++n}`,
          toolName,
          argumentsJson,
          principal: benchPrincipal,
          idempotencyKey: '',
        },
        // What invokeTool sets: the tool's timeout plus a second for the hop.
        { timeoutMs: 4_000 },
      );
      if (res.outcome.case !== 'resultJson') throw new Error(`tool failed: ${res.outcome.value?.message}`);
    },
    close: async () => {},
  };
}
