import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';

/** Rough token count (≈ 4 characters per token), good enough to bound a prompt. */
export function estimateTokens(message: ChatCompletionMessageParam): number {
  let chars =
    typeof message.content === 'string'
      ? message.content.length
      : JSON.stringify(message.content ?? '').length;
  if (message.role === 'assistant' && message.tool_calls) chars += JSON.stringify(message.tool_calls).length;
  return Math.ceil(chars / 4) + 4;
}

/**
 * Bounds the prompt to a token budget so it stays flat over long conversations:
 * the system message and the current turn (from the last user message on) are
 * always kept; earlier turns are dropped whole, oldest first, so no assistant tool
 * call is ever separated from its tool results. A note tells the model what was left out.
 */
export function fitToBudget(
  messages: ChatCompletionMessageParam[],
  budgetTokens: number,
): ChatCompletionMessageParam[] {
  const total = messages.reduce((n, m) => n + estimateTokens(m), 0);
  if (total <= budgetTokens) return messages;
  const [system, ...rest] = messages;
  const turnStarts = rest.flatMap((m, i) => (m.role === 'user' ? [i] : []));
  const current = turnStarts.at(-1) ?? 0;
  const turns: ChatCompletionMessageParam[][] = [];
  for (let t = 0; t < turnStarts.length - 1; t++) turns.push(rest.slice(turnStarts[t], turnStarts[t + 1]));
  const head = rest.slice(0, turnStarts[0] ?? 0);
  const tail = rest.slice(current);
  let used = (system ? estimateTokens(system) : 0) + tail.reduce((n, m) => n + estimateTokens(m), 0) + 40;
  // Keep the most recent earlier turns that still fit.
  const kept: ChatCompletionMessageParam[][] = [];
  for (let t = turns.length - 1; t >= 0; t--) {
    const turn = turns[t] as ChatCompletionMessageParam[];
    const cost = turn.reduce((n, m) => n + estimateTokens(m), 0);
    if (used + cost > budgetTokens) break;
    kept.unshift(turn);
    used += cost;
  }
  const omitted = head.length + turns.slice(0, turns.length - kept.length).reduce((n, t) => n + t.length, 0);
  const note: ChatCompletionMessageParam = {
    role: 'system',
    content: `${omitted} earlier messages of this conversation were left out to fit the context budget.`,
  };
  return [...(system ? [system] : []), note, ...kept.flat(), ...tail];
}
