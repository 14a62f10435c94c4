import { toolFilter } from '../assistants/index.ts';
import type { StoredMessage } from '../core-types.ts';
import { completeWithFallback, type ModelAnswer, type ModelPool } from '../model/index.ts';
import type { ToolRegistry } from '../tools/index.ts';
import { buildPrompt, offeredTools } from './build-prompt.ts';
import { fitToBudget } from './fit-to-budget.ts';
import type { TurnAssistant, TurnContext, TurnObserver, TurnState } from './turn-context.ts';

/** What a model call needs besides the turn. */
export interface CallModelDeps {
  /** A client per model backend. */
  models: ModelPool;
  registry: ToolRegistry;
  /** Token budget of the prompt. */
  contextBudgetTokens: number;
  /** Tools offered per model request, at most. */
  maxOfferedTools: number;
  observer?: TurnObserver;
}

/** The turn's assistant; the engine sets it before any round runs. */
export function assistantOf(state: TurnState): TurnAssistant {
  if (!state.assistant) throw new Error(`turn of ${state.conversationId} has no assistant`);
  return state.assistant;
}

/**
 * The one way a turn asks the model: the assistant's instructions and the history
 * as a prompt within its budget, the tools the user may run and the assistant may
 * use (narrowed for the conversation), the assistant's model parameters, its models
 * in order (a fallback only while the previous one is unavailable), text streamed
 * to the caller when it listens, and the usage added to the turn. `final` asks for
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
  const chosen = assistantOf(state);
  const { profile } = chosen;
  const { answer, backend } = await completeWithFallback(
    deps.models,
    chosen.backends,
    {
      messages: fitToBudget(buildPrompt(profile.instructions, history), deps.contextBudgetTokens),
      // The schema of the version this conversation is pinned to, one tool per name.
      tools: offeredTools(deps.registry.list(), ctx.principal.permissions, {
        history,
        limit: deps.maxOfferedTools,
        allowed: toolFilter(profile),
        conversationId: state.conversationId,
      }),
      ...(final ? { toolChoice: 'none' as const } : {}),
      ...(profile.temperature === undefined ? {} : { temperature: profile.temperature }),
      ...(profile.maxOutputTokens === undefined ? {} : { maxOutputTokens: profile.maxOutputTokens }),
      labels: { assistant: chosen.assistant, variant: chosen.variant },
      signal: ctx.signal,
      onTextDelta: emit && ((text) => emit({ case: 'textDelta', value: { text } })),
    },
    deps.observer?.modelFellBack,
  );
  state.usage.modelCalls++;
  state.usage.promptTokens += answer.usage.promptTokens;
  state.usage.completionTokens += answer.usage.completionTokens;
  state.usage.model = backend.model;
  await deps.observer?.modelAnswered?.({
    tenantId: ctx.principal.tenantId,
    assistant: chosen.assistant,
    variant: chosen.variant,
    model: backend.model,
    promptTokens: answer.usage.promptTokens,
    completionTokens: answer.usage.completionTokens,
  });
  return answer;
}
