import type { RegisteredTool } from './tool-registry.ts';

/** The words of a text that tool selection matches on: lowercase runs of three or more letters or digits. */
export const wordsOf = (text: string) => new Set(text.toLowerCase().match(/[a-z0-9]{3,}/g) ?? []);

// A tool's words, computed once per registered tool (a registry refresh makes new ones).
const vocabulary = new WeakMap<RegisteredTool, Set<string>>();

/** The words of a tool's name and description. */
export function toolWords(tool: RegisteredTool): Set<string> {
  let known = vocabulary.get(tool);
  if (!known) {
    known = wordsOf(`${tool.definition.name.replaceAll('_', ' ')} ${tool.definition.description}`);
    vocabulary.set(tool, known);
  }
  return known;
}

/** The permission a tool needs; a tool that names none is offered to nobody. */
export const permissionOf = (tool: RegisteredTool) => tool.definition.metadata?.permission ?? '';

/** Tools that one assistant's tool list lets through, by the permission each needs. */
export interface AllowedView {
  /** Whether the tool at each position passes the assistant's filter. */
  allows(position: number): boolean;
  /** Positions, ascending, of the tools needing `permission` that the filter lets through. */
  group(permission: string): readonly number[];
}

/**
 * A registry list indexed once, so choosing a request's tools walks what the request is about
 * (its words, its permissions, the tools used so far) instead of every registered tool. Tools
 * in a rollout (several versions served, so with `forConversation`) are not indexed: which
 * version a conversation sees, and so its permission and words, is decided per request.
 */
export interface ToolIndex {
  /** Position of each name in `tools`. */
  readonly positions: ReadonlyMap<string, number>;
  /** Positions of the tools in a rollout, ascending. */
  readonly rollouts: readonly number[];
  /** Whether the tool at a position is in a rollout. */
  isRollout(position: number): boolean;
  /** Permission of the tool at a position (tools outside a rollout only). */
  permissionAt(position: number): string;
  /** Positions, ascending, of the tools outside a rollout whose words hold `word`. */
  postings(word: string): readonly number[] | undefined;
  /** The view through an assistant's filter; the same object for the same filter. */
  view(allowed: ((toolName: string) => boolean) | undefined): AllowedView;
  /** Scores of one selection (zero between selections; see selectTools). */
  readonly scratch: Uint16Array;
}

const none: readonly number[] = [];

const indexes = new WeakMap<readonly RegisteredTool[], ToolIndex>();

/**
 * The index of `tools`, built on first use and kept as long as the list is: the registry
 * hands out the same list until its tools change. The list must not change afterwards.
 */
export function toolIndex(tools: readonly RegisteredTool[]): ToolIndex {
  let index = indexes.get(tools);
  if (!index) {
    index = buildIndex(tools);
    indexes.set(tools, index);
  }
  return index;
}

function buildIndex(tools: readonly RegisteredTool[]): ToolIndex {
  const positions = new Map<string, number>();
  const rollouts: number[] = [];
  const rollout = new Uint8Array(tools.length);
  const permissions: string[] = new Array(tools.length);
  const postings = new Map<string, number[]>();
  const byPermission = new Map<string, number[]>();
  tools.forEach((tool, position) => {
    positions.set(tool.definition.name, position);
    if (tool.forConversation) {
      rollouts.push(position);
      rollout[position] = 1;
      return;
    }
    const permission = permissionOf(tool);
    permissions[position] = permission;
    const group = byPermission.get(permission);
    if (group) group.push(position);
    else byPermission.set(permission, [position]);
    for (const word of toolWords(tool)) {
      const list = postings.get(word);
      if (list) list.push(position);
      else postings.set(word, [position]);
    }
  });
  const views = new WeakMap<(toolName: string) => boolean, AllowedView>();
  const everything: AllowedView = {
    allows: () => true,
    group: (permission) => byPermission.get(permission) ?? none,
  };
  return {
    positions,
    rollouts,
    isRollout: (position) => rollout[position] === 1,
    permissionAt: (position) => permissions[position] ?? '',
    postings: (word) => postings.get(word),
    view(allowed) {
      if (!allowed) return everything;
      let view = views.get(allowed);
      if (!view) {
        view = filteredView(tools, byPermission, allowed);
        views.set(allowed, view);
      }
      return view;
    },
    scratch: new Uint16Array(tools.length),
  };
}

// One assistant's view: its filter asked once per tool, each permission's group narrowed once.
function filteredView(
  tools: readonly RegisteredTool[],
  byPermission: ReadonlyMap<string, number[]>,
  allowed: (toolName: string) => boolean,
): AllowedView {
  const mask = new Uint8Array(tools.length);
  tools.forEach((tool, position) => {
    if (allowed(tool.definition.name)) mask[position] = 1;
  });
  // Only permissions some tool needs get an entry, so the map stays as small as the registry's.
  const groups = new Map<string, readonly number[]>();
  return {
    allows: (position) => mask[position] === 1,
    group(permission) {
      let group = groups.get(permission);
      if (!group) {
        const all = byPermission.get(permission);
        if (!all) return none;
        group = all.filter((position) => mask[position] === 1);
        groups.set(permission, group);
      }
      return group;
    },
  };
}
