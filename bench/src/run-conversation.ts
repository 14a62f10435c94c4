import { ChatService } from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import type { ConversationJob, ConversationJobResult, TurnRecord } from './load-job.ts';

/** One conversation of `turns` turns through the gateway, recording each turn's latency and prompt. */
export async function runConversation(job: ConversationJob): Promise<ConversationJobResult> {
  const client = createGrpcClient(ChatService, { address: job.address, defaultTimeoutMs: 60_000 });
  const headers = { authorization: `Bearer ${job.apiKey}` };
  const turns: TurnRecord[] = [];
  let conversationId = '';
  let errors = 0;
  let firstError: string | undefined;
  for (let i = 0; i < job.turns; i++) {
    const started = performance.now();
    try {
      const res = await client.chat({ conversationId, message: job.message }, { headers });
      conversationId = res.conversationId;
      turns.push({
        latencyMs: performance.now() - started,
        promptTokens: res.usage?.promptTokens ?? 0,
        modelCalls: res.usage?.modelCalls ?? 0,
        toolCalls: res.toolExecutions.length,
      });
    } catch (error) {
      errors++;
      firstError ??= error instanceof Error ? error.message : String(error);
    }
  }
  return { turns, errors, ...(firstError ? { firstError } : {}) };
}
