/** Budget of one tool result as the model will read it. */
export interface OutputBudget {
  maxChars: number;
  /** Top-level fields kept when the whole result does not fit. */
  summaryFields: readonly string[];
}

/**
 * Keeps a tool result within its budget: first the declared summary fields, and
 * if that is still too long (or none are declared) a cut with an explicit marker,
 * so the model knows it did not see everything.
 */
export function fitToolOutput(content: string, budget: OutputBudget): string {
  if (content.length <= budget.maxChars) return content;
  if (budget.summaryFields.length) {
    try {
      const parsed: unknown = JSON.parse(content);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        const record = parsed as Record<string, unknown>;
        const summary = Object.fromEntries(
          budget.summaryFields.filter((f) => f in record).map((f) => [f, record[f]]),
        );
        const text = JSON.stringify({
          ...summary,
          _truncated: `summary fields only; full result was ${content.length} chars`,
        });
        if (text.length <= budget.maxChars) return text;
      }
    } catch {
      // not JSON: fall through to the cut
    }
  }
  const marker = `…[truncated: ${content.length - budget.maxChars} of ${content.length} chars omitted]`;
  return content.slice(0, Math.max(0, budget.maxChars - marker.length)) + marker;
}
