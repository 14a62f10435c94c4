import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { parseAssistantsFile } from '@toolmesh/orchestrator';
import { generateText, stepCountIs, tool } from 'ai';
import { z } from 'zod';
import type { CallTarget } from './call-target.ts';
import type { ChatExpectation } from './create-gateway-chat-target.ts';
import { dispatchPlan, orderDetail, stock } from './demo-world.ts';

// The demo assistant's instructions (config/assistants.yaml), so both agents send the model
// prompts of the same size.
const demoFile = fileURLToPath(new URL('../../config/assistants.yaml', import.meta.url));
const demo = parseAssistantsFile(readFileSync(demoFile, 'utf8'), {
  envModel: { name: 'env', baseURL: 'http://127.0.0.1/v1', apiKey: 'unused', model: 'unused' },
  env: {},
  readFile: (path) => readFileSync(path, 'utf8'),
});
const system = demo.assistants.get(demo.defaultAssistant)?.variants[0]?.instructions ?? '';

// The demo world's read tools, answered from memory: no network, no database.
const tools = {
  get_order_detail: tool({
    description: "Looks up one of the user's orders: status, payment, logistics, dispatch node, items.",
    inputSchema: z.strictObject({
      order_id: z.string().regex(/^[0-9]{12}$/),
      include_items: z.boolean().default(false),
    }),
    execute: async ({ order_id, include_items }) => {
      if (order_id !== orderDetail.order_id)
        return { error: { code: 'NOT_FOUND', message: 'no such order' } };
      const { items, ...detail } = orderDetail;
      return include_items ? { ...detail, items } : detail;
    },
  }),
  get_inventory_snapshot: tool({
    description: 'Current stock of SKUs: available quantity and restock date.',
    inputSchema: z.strictObject({ skus: z.array(z.string()).min(1).max(50) }),
    execute: async ({ skus }) => ({
      items: skus.map((sku) => ({ sku, ...(stock[sku] ?? { available: 0, restock_date: null }) })),
    }),
  }),
  get_dispatch_plan: tool({
    description: "The dispatch plan of one of the user's orders: node, carrier, status, estimated delivery.",
    inputSchema: z.strictObject({ order_id: z.string().regex(/^[0-9]{12}$/) }),
    execute: async () => dispatchPlan,
  }),
};

/**
 * The in-process alternative to the mesh: a Vercel AI SDK agent (generateText with
 * tools and a step limit) calling the same OpenAI-compatible model, tools in memory.
 */
export function createAiSdkAgentTarget(
  baseUrl: string,
  message: string,
  expect: ChatExpectation,
): CallTarget {
  const provider = createOpenAICompatible({ name: 'scripted', baseURL: baseUrl, apiKey: 'none' });
  const model = provider.chatModel('toolmesh-scripted');
  const counters = { chats: 0, toolCalls: 0, promptTokens: 0 };
  return {
    counters,
    async call() {
      const result = await generateText({ model, system, prompt: message, tools, stopWhen: stepCountIs(8) });
      const toolCalls = result.steps.reduce((n, step) => n + step.toolResults.length, 0);
      if (result.steps.length !== expect.modelCalls || toolCalls !== expect.toolCalls || !result.text) {
        throw new Error(`unexpected answer: ${result.steps.length} model calls, ${toolCalls} tool calls`);
      }
      counters.chats++;
      counters.toolCalls += toolCalls;
      counters.promptTokens += result.totalUsage.inputTokens ?? 0;
    },
    close: async () => {},
  };
}
