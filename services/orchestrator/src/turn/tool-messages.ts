import type { StoredMessage } from '../core-types.ts';
import type { ToolOutcome, ToolRegistry } from '../tools/index.ts';
import { fitToolOutput } from './fit-tool-output.ts';

/** The one tool message of a call. */
export function toolMessage(toolCallId: string, content: string): StoredMessage {
  return { role: 'tool', toolCallId, content };
}

/** The tool message of a call that was never executed, and why. */
export function notExecutedMessage(toolCallId: string, code: string, message: string): StoredMessage {
  return toolMessage(toolCallId, JSON.stringify({ error: { code, message, retryable: false } }));
}

/**
 * A result as the model reads it: bounded by its tool's output budget (or
 * `defaultMaxChars`), and stored that way.
 */
export function resultMessage(
  outcome: ToolOutcome,
  registry: ToolRegistry,
  defaultMaxChars: number,
): StoredMessage {
  const metadata = registry.get(outcome.toolName)?.definition.metadata;
  return toolMessage(
    outcome.toolCallId,
    fitToolOutput(outcome.content, {
      maxChars: metadata?.maxOutputChars || defaultMaxChars,
      summaryFields: metadata?.summaryFields ?? [],
    }),
  );
}
