import { z } from 'zod';

// Content may be a string or an array of parts; the planner only reads text, so parts are
// flattened here. Unknown fields (temperature, max_tokens, ...) are accepted and ignored, as
// vLLM and Ollama do.
const content = z
  .union([z.string(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))])
  .nullish()
  .transform((value) => {
    if (value === undefined || value === null) return null;
    if (typeof value === 'string') return value;
    return value.map((part) => part.text ?? '').join('');
  });

const toolCall = z.looseObject({
  id: z.string().min(1),
  // OpenAI always sends it; some OpenAI-compatible clients leave it out.
  type: z.literal('function').optional(),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const message = z.discriminatedUnion('role', [
  z.looseObject({ role: z.literal('system'), content, name: z.string().optional() }),
  z.looseObject({ role: z.literal('developer'), content, name: z.string().optional() }),
  z.looseObject({ role: z.literal('user'), content, name: z.string().optional() }),
  z.looseObject({
    role: z.literal('assistant'),
    content,
    name: z.string().optional(),
    tool_calls: z.array(toolCall).nullish(),
  }),
  z.looseObject({ role: z.literal('tool'), content, tool_call_id: z.string().min(1) }),
]);

const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().min(1) }) }),
]);

/** The subset of an OpenAI Chat Completions request body the scripted model understands. */
export const chatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  tools: z.array(tool).nullish(),
  tool_choice: toolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  // One deterministic answer only: n > 1 would just repeat it.
  n: z.literal(1).nullish(),
});

/** A validated Chat Completions request, message content flattened to text. */
export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;

/** Validates a decoded request body; the error text names the first offending field. */
export function parseChatCompletionRequest(
  body: unknown,
): { ok: true; request: ChatCompletionRequest } | { ok: false; message: string } {
  const parsed = chatCompletionRequestSchema.safeParse(body);
  if (parsed.success) {
    const request = parsed.data;
    const choice = request.tool_choice;
    const names = (request.tools ?? []).map((t) => t.function.name);
    if (typeof choice === 'object' && choice !== null && !names.includes(choice.function.name)) {
      return {
        ok: false,
        message: `Invalid 'tool_choice': no tool named '${choice.function.name}' in 'tools'.`,
      };
    }
    return { ok: true, request };
  }
  const issue = parsed.error.issues[0];
  const path = issue?.path.length ? issue.path.join('.') : 'body';
  return { ok: false, message: `Invalid '${path}': ${issue?.message ?? 'invalid request'}.` };
}
