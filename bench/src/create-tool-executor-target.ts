import { createStaticDiscovery } from '@toolmesh/discovery';
import {
  canonicalJson,
  createToolCredentials,
  createToolExecutor,
  createToolRegistry,
} from '@toolmesh/orchestrator';
import { SideEffect } from '@toolmesh/proto';
import { createLogger } from '@toolmesh/telemetry';
import { createBenchIssuer } from './bench-mesh-keys.ts';
import { benchPrincipal } from './bench-principal.ts';
import type { CallTarget } from './call-target.ts';

type ExecutionLedger = Parameters<typeof createToolExecutor>[0]['ledger'];

// The SQL ledger and audit are left out here: the tool hop is the transport and the
// checks on both ends; persistence is measured end to end.
const noLedger: ExecutionLedger = {
  owner: 'bench',
  start: async () => async () => {},
  record: async () => {},
  markStaleAsUnknown: async () => [],
  resolve: async () => {},
  unreportedTasks: async () => [],
  markTaskReported: async () => true,
  findOwnedTask: async () => undefined,
};

/**
 * Tool calls as the orchestrator makes them: the argument checks of its round
 * planning (JSON, the JSON Schema read with ListTools, canonical arguments), then
 * its executor (endpoint choice, circuit breaker, retry policy, the credential signed for
 * the call, the connect-node client): everything of a tool call but the ledger and the limits.
 */
export async function createToolExecutorTarget(
  address: string,
  toolName: string,
  argumentsJson: string,
  signingKeyFile: string,
): Promise<CallTarget> {
  const logger = createLogger({ service: 'bench-load', level: 'warn' });
  // Wired as the orchestrator's main wires them.
  const credentials = createToolCredentials(createBenchIssuer(signingKeyFile), {
    isReadTool: (name) => registry.get(name)?.definition.metadata?.sideEffect === SideEffect.READ,
  });
  const registry = createToolRegistry({
    discovery: createStaticDiscovery([address]),
    logger,
    refreshMs: 3_600_000,
    listToolsHeaders: () => credentials.forRegistry(),
  });
  await registry.start(10_000);
  const tool = registry.get(toolName);
  if (!tool) throw new Error(`${address} does not publish ${toolName}`);
  const executor = createToolExecutor({ logger, credentials, ledger: noLedger });
  const signal = new AbortController().signal;
  let n = 0;
  return {
    counters: {},
    async call() {
      const id = `call_${++n}`;
      const args: unknown = JSON.parse(argumentsJson);
      const problem = tool.validate(args);
      if (problem) throw new Error(`arguments rejected: ${problem}`);
      const [outcome] = await executor.executeAll(
        [{ toolCallId: id, tool, argumentsJson: canonicalJson(args), idempotencyKey: id }],
        { principal: benchPrincipal, requestId: id, conversationId: 'bench', signal },
      );
      if (!outcome?.success) throw new Error(`tool failed: ${outcome?.errorCode} ${outcome?.errorMessage}`);
    },
    close: async () => registry.stop(),
  };
}
