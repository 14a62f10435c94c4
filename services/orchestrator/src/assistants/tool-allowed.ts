import type { AssistantProfile } from './assistant-catalog.ts';

// Compiled patterns, shared by every profile: a catalog has few distinct globs, and a turn asks often.
const compiled = new Map<string, RegExp>();

function patternRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`, 's');
    compiled.set(pattern, re);
  }
  return re;
}

/** True when `toolName` matches one of `patterns` (tool names, or globs where `*` is any run of characters). */
export function matchesToolPattern(patterns: readonly string[], toolName: string): boolean {
  return patterns.some((p) => (p.includes('*') ? patternRegExp(p).test(toolName) : p === toolName));
}

/**
 * Whether the profile may offer and run `toolName`: its `tools` are names or globs (`*` only,
 * anchored at both ends); a profile without `tools` allows every tool (the user's own
 * permissions still apply elsewhere).
 */
export function toolAllowed(profile: AssistantProfile, toolName: string): boolean {
  return profile.tools === undefined || matchesToolPattern(profile.tools, toolName);
}

// One filter per tool list: a turn's profile is a copy of its variant, but the list is the
// variant's own, and a reloaded catalog makes new lists (the old filters go with them).
const filters = new WeakMap<readonly string[], (toolName: string) => boolean>();

/**
 * {@link toolAllowed} of one profile as a function, the same one for every turn of the same
 * assistant variant (so what is filtered through it can be kept; see selectTools); undefined
 * when the profile allows every tool.
 */
export function toolFilter(profile: AssistantProfile): ((toolName: string) => boolean) | undefined {
  const patterns = profile.tools;
  if (patterns === undefined) return undefined;
  let filter = filters.get(patterns);
  if (!filter) {
    filter = (toolName) => matchesToolPattern(patterns, toolName);
    filters.set(patterns, filter);
  }
  return filter;
}
