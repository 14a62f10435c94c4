import type { StoredMessage } from '../core-types.ts';
import { permissionOf, toolIndex, toolWords, wordsOf } from './tool-index.ts';
import type { RegisteredTool } from './tool-registry.ts';

/** Words of the latest message that rank tools; also keeps every score within a Uint16Array. */
const maxAskedWords = 1_000;

/** What narrows a request's tools: who asks, for which assistant, in which conversation. */
export interface ToolSelection {
  /** The conversation so far: tools it used, and the user's latest message. */
  history: readonly StoredMessage[];
  /** At most this many tools. */
  limit: number;
  /**
   * The assistant's filter (default: every tool). Pass the same function for the same
   * assistant (see `toolFilter`): the registry is filtered once per function, not per request.
   */
  allowed?: (toolName: string) => boolean;
  /** The conversation whose pinned versions of tools in a rollout are offered; none: the default versions. */
  conversationId?: string;
}

/**
 * The tools of `tools` (a registry list, in registry order) to offer on one model request:
 * those the user's `permissions` and the assistant let through and, beyond `limit`, the
 * `limit` best for the conversation. Models take a bounded tool list (OpenAI refuses more
 * than 128), and every offered tool costs prompt tokens on every call, so a large registry
 * is narrowed: tools this conversation already used first, then those whose name and
 * description share the most words with the user's latest message, then registry order.
 * The chosen ones keep registry order, so the prompt stays stable from round to round.
 *
 * Runs on every model request, with registries of thousands of tools: the list is indexed
 * once (see toolIndex), and a request walks only its words' tools and as many others as it
 * needs, not the registry.
 */
export function selectTools(
  tools: readonly RegisteredTool[],
  permissions: readonly string[],
  selection: ToolSelection,
): RegisteredTool[] {
  const index = toolIndex(tools);
  const allowed = selection.allowed;
  const view = index.view(allowed);
  const granted = new Set(permissions);
  const groups: (readonly number[])[] = [];
  let total = 0;
  for (const permission of granted) {
    const group = view.group(permission);
    if (group.length) groups.push(group);
    total += group.length;
  }
  // Tools in a rollout, as this conversation sees them: their version decides permission and words.
  const conversationId = selection.conversationId;
  const pinned = new Map<number, RegisteredTool>();
  for (const position of index.rollouts) {
    const tool = tools[position] as RegisteredTool;
    const seen = conversationId && tool.forConversation ? tool.forConversation(conversationId) : tool;
    if (granted.has(permissionOf(seen)) && (!allowed || allowed(seen.definition.name))) {
      pinned.set(position, seen);
    }
  }
  if (pinned.size) groups.push([...pinned.keys()]);
  total += pinned.size;
  const toolAt = (position: number) => pinned.get(position) ?? (tools[position] as RegisteredTool);
  if (total <= selection.limit) return groups.flat().sort(ascending).map(toolAt);

  const permitted = (position: number) =>
    index.isRollout(position)
      ? pinned.has(position)
      : view.allows(position) && granted.has(index.permissionAt(position));
  const used = new Set<string>();
  let latest = '';
  for (const message of selection.history) {
    if (message.role === 'assistant') for (const call of message.toolCalls) used.add(call.name);
    if (message.role === 'user') latest = message.content;
  }
  // Enough words for any question; a message of thousands costs no more than this to rank on.
  const asked = [...wordsOf(latest)].slice(0, maxAskedWords);
  // A tool already used outranks any count of shared words.
  const usedScore = asked.length + 1;
  const scores = index.scratch;
  const scored: number[] = [];
  try {
    for (const name of used) {
      const position = index.positions.get(name);
      if (position === undefined || !permitted(position)) continue;
      scores[position] = usedScore;
      scored.push(position);
    }
    for (const word of asked) {
      for (const position of index.postings(word) ?? []) {
        const score = scores[position] ?? 0;
        if (score === usedScore || !permitted(position)) continue;
        if (score === 0) scored.push(position);
        scores[position] = score + 1;
      }
    }
    for (const [position, tool] of pinned) {
      if (scores[position] === usedScore) continue;
      const about = toolWords(tool);
      let score = 0;
      for (const word of asked) if (about.has(word)) score++;
      if (score > 0) scored.push(position);
      scores[position] = score;
    }
    const byScore = (a: number, b: number) => (scores[b] ?? 0) - (scores[a] ?? 0) || a - b;
    const chosen = scored.sort(byScore).slice(0, selection.limit);
    // Fewer tools with a score than the limit: the first others in registry order fill it.
    for (const position of ascendingMerge(groups)) {
      if (chosen.length >= selection.limit) break;
      if ((scores[position] ?? 0) === 0) chosen.push(position);
    }
    return chosen.sort(ascending).map(toolAt);
  } finally {
    for (const position of scored) scores[position] = 0;
  }
}

const ascending = (a: number, b: number) => a - b;

// Positions of several ascending lists, ascending, taken one at a time: a fill stops early.
function* ascendingMerge(lists: readonly (readonly number[])[]): Generator<number> {
  const next = lists.map(() => 0);
  for (;;) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const head = lists[i]?.[next[i] ?? 0];
      if (head !== undefined && (best < 0 || head < (lists[best]?.[next[best] ?? 0] ?? 0))) best = i;
    }
    if (best < 0) return;
    const position = lists[best]?.[next[best] ?? 0] as number;
    next[best] = (next[best] ?? 0) + 1;
    yield position;
  }
}
