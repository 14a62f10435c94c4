import type { ToolErrorName } from '@toolmesh/rpc';

/** How one tool call ended; `content` is what the model reads in the tool message. */
export interface ToolOutcome {
  toolCallId: string;
  toolName: string;
  success: boolean;
  errorCode: ToolErrorName | '';
  errorMessage: string;
  content: string;
  durationMs: number;
  /** Answered from the read cache. */
  cached: boolean;
  /** InvokeTool calls made (retries included); absent: none. */
  attempts?: number;
}

/** Builds the outcome of a call that failed before or during execution. */
export function failedOutcome(
  toolCallId: string,
  toolName: string,
  code: ToolErrorName,
  message: string,
  retryable = false,
  durationMs = 0,
): ToolOutcome {
  return {
    toolCallId,
    toolName,
    success: false,
    errorCode: code,
    errorMessage: message,
    content: JSON.stringify({ error: { code, message, retryable } }),
    durationMs,
    cached: false,
  };
}
