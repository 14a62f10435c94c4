import { ChatService, StopReason } from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import type { CallTarget } from './call-target.ts';

/** What a correct answer to the benchmark question holds. */
export interface ChatExpectation {
  toolCalls: number;
  modelCalls: number;
}

/** ChatService/Chat at the gateway, a new conversation per call, each answer checked. */
export function createGatewayChatTarget(
  address: string,
  apiKey: string,
  message: string,
  expect: ChatExpectation,
): CallTarget {
  const client = createGrpcClient(ChatService, { address, defaultTimeoutMs: 60_000 });
  const headers = { authorization: `Bearer ${apiKey}` };
  const counters = { chats: 0, toolCalls: 0, cachedToolCalls: 0, promptTokens: 0 };
  return {
    counters,
    async call() {
      const res = await client.chat({ message }, { headers });
      const modelCalls = res.usage?.modelCalls ?? 0;
      const failed = res.toolExecutions.filter((e) => !e.success);
      if (
        res.stopReason !== StopReason.COMPLETED ||
        res.toolExecutions.length !== expect.toolCalls ||
        modelCalls !== expect.modelCalls ||
        failed.length
      ) {
        throw new Error(
          `unexpected answer: stop ${res.stopReason}, ${res.toolExecutions.length} tool calls, ` +
            `${modelCalls} model calls, failed ${failed.map((e) => e.errorCode).join(',') || 'none'}`,
        );
      }
      counters.chats++;
      counters.toolCalls += res.toolExecutions.length;
      counters.cachedToolCalls += res.toolExecutions.filter((e) => e.cached).length;
      counters.promptTokens += res.usage?.promptTokens ?? 0;
    },
    close: async () => {},
  };
}
