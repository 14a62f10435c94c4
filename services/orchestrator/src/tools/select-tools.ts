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
  const asked = [...words(latest)];
  // A tool already used outranks any count of shared words.
  const usedScore = asked.length + 1;
  const scores = new Uint16Array(tools.length);
  // How many tools have each score: the top `limit` by (score, registry order) are then all
  // tools above a cut-off score and the first ones at it, found without sorting the registry
  // (it is walked once per model request, and may hold thousands of tools).
  const counts = new Uint32Array(usedScore + 1);
  for (let i = 0; i < tools.length; i++) {
    const tool = tools[i] as RegisteredTool;
    let score = 0;
    if (used.has(tool.definition.name)) score = usedScore;
    else {
      const about = wordsOf(tool);
      for (const word of asked) if (about.has(word)) score++;
    }
    scores[i] = score;
    counts[score] = (counts[score] ?? 0) + 1;
  }
  let cutoff = usedScore;
  let above = 0;
  while (cutoff > 0 && above + (counts[cutoff] ?? 0) < limit) above += counts[cutoff--] ?? 0;
  let atCutoff = limit - above;
  return tools.filter((_, i) => {
    const score = scores[i] ?? 0;
    if (score > cutoff) return true;
    if (score < cutoff || atCutoff === 0) return false;
    atCutoff--;
    return true;
  });
}
