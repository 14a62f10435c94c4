/** Whether a service may publish a tool name, and why not. */
export type PublishVerdict = { allowed: true } | { allowed: false; reason: string };

/**
 * Who may publish which tool names, which incompatible versions are accepted anyway, and how
 * conversations are spread over the versions of a name. Made by parsePublishingPolicy (the
 * file of TOOLMESH_PUBLISHING_POLICY) or {@link openPublishingPolicy} (no file).
 */
export interface PublishingPolicy {
  /** The file it came from; empty for the open policy. */
  readonly source: string;
  /** Short sha256 of the file's text; empty for the open policy. */
  readonly version: string;
  /**
   * Whether the service registered in discovery as `service` (empty: unnamed) may
   * publish `tool`.
   */
  mayPublish(service: string, tool: string): PublishVerdict;
  /** Version `version` of `tool` is accepted although its schema breaks the previous one. */
  forced(tool: string, version: string): boolean;
  /**
   * Rollout weights of `tool` by version, as the file gives them; undefined when the file
   * names none (then the lowest served version takes every conversation).
   */
  weights(tool: string): ReadonlyMap<string, number> | undefined;
}

/** Without a policy file: any service may publish any name, nothing is forced, no weights. */
export const openPublishingPolicy: PublishingPolicy = {
  source: '',
  version: '',
  mayPublish: () => ({ allowed: true }),
  forced: () => false,
  weights: () => undefined,
};

/** A name pattern of the file: an exact name, or a prefix ending in "*". */
export function nameMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}
