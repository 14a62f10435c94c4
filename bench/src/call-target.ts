/** A target the load generator drives: one call, its counters, and cleanup. */
export interface CallTarget {
  /** One request; throws when the answer is wrong, not only when it fails. */
  call(): Promise<void>;
  /** Facts about the answers worth reporting (e.g. cached tool calls). */
  readonly counters: Record<string, number>;
  close(): Promise<void>;
}
