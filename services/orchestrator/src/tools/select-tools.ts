import type { StoredMessage } from '../core-types.ts';
import type { RegisteredTool } from './tool-registry.ts';

const words = (text: string) => new Set(text.toLowerCase().match(/[a-z0-9]{3,}/g) ?? []);

// A tool's words, computed once per registered tool (a registry refresh makes new ones).
const vocabulary = new WeakMap<RegisteredTool, Set<string>>();
const wordsOf = (tool: RegisteredTool) => {
  let known = vocabulary.get(tool);
  if (!known) {
    known = words(`${tool.definition.name.replaceAll('_', ' ')} ${tool.definition.description}`);
    vocabulary.set(tool, known);
  }
  return known;
};

/**
 * At most `limit` of the tools, for one model request. Models take a bounded tool
 * list (OpenAI refuses more than 128), and every offered tool costs prompt tokens
 * on every call, so a large registry is narrowed: tools this conversation already
 * used first, then those whose name and description share the most words with the
 * user's latest message. The chosen ones keep registry order, so the prompt stays
 * stable from round to round.
 */
export function selectTools(
  tools: RegisteredTool[],
  history: readonly StoredMessage[],
  limit: number,
): RegisteredTool[] {
  if (tools.length <= limit) return tools;
  const used = new Set<string>();
  let latest = '';
  for (const message of history) {
    if (message.role === 'assistant') for (const call of message.toolCalls) used.add(call.name);
    if (message.role === 'user') latest = message.content;
  }
  const asked = words(latest);
  const score = (tool: RegisteredTool) => {
    if (used.has(tool.definition.name)) return Number.POSITIVE_INFINITY;
    const about = wordsOf(tool);
    let shared = 0;
    for (const word of asked) if (about.has(word)) shared++;
    return shared;
  };
  const chosen = new Set(
    tools
      .map((tool, index) => ({ tool, index, score: score(tool) }))
      .sort((a, b) => b.score - a.score || a.index - b.index)
      .slice(0, limit)
      .map((ranked) => ranked.tool),
  );
  return tools.filter((tool) => chosen.has(tool));
}
