import type { StoredMessage } from '../core-types.ts';
import type { ModelAnswer, ModelClient } from '../model/index.ts';
import type { ToolRegistry } from '../tools/index.ts';
import { buildPrompt, offeredTools } from './build-prompt.ts';
import { fitToBudget } from './fit-to-budget.ts';
import type { TurnContext, TurnState } from './turn-context.ts';

/** What a model call needs besides the turn. */
export interface CallModelDeps {
  model: ModelClient;
  registry: ToolRegistry;
  /** Token budget of the prompt. */
  contextBudgetTokens: number;
  /** Tools offered per model request, at most. */
  maxOfferedTools: number;
}

/**
 * The one way a turn asks the model: the history as a prompt within its budget,
 * the tools the user may run (narrowed for the conversation), text streamed to
 * the caller when it listens, and the usage added to the turn. `final` asks for
 * an answer without tools (the round limit).
 */
export async function callModel(
  deps: CallModelDeps,
  ctx: TurnContext,
  state: TurnState,
  history: StoredMessage[],
  final = false,
): Promise<ModelAnswer> {
  const emit = ctx.emit;
  const answer = await deps.model.complete({
    messages: fitToBudget(buildPrompt(history), deps.contextBudgetTokens),
    tools: offeredTools(deps.registry.list(), ctx.principal.permissions, {
      history,
      limit: deps.maxOfferedTools,
    }),
    ...(final ? { toolChoice: 'none' as const } : {}),
    signal: ctx.signal,
    onTextDelta: emit && ((text) => emit({ case: 'textDelta', value: { text } })),
  });
  state.usage.modelCalls++;
  state.usage.promptTokens += answer.usage.promptTokens;
  state.usage.completionTokens += answer.usage.completionTokens;
  return answer;
}
