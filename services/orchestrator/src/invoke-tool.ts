import { Code, ConnectError } from '@connectrpc/connect';
import type { Principal } from '@toolmesh/proto';
import { toolErrorName } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import { failedOutcome, type ToolOutcome } from './tool-outcome.ts';
import type { RegisteredTool } from './tool-registry.ts';

/** One InvokeTool request as the executor sends it. */
export interface InvokeInput {
  tool: RegisteredTool;
  toolCallId: string;
  argumentsJson: string;
  idempotencyKey: string;
  principal: Principal;
  signal: AbortSignal;
}

/**
 * Calls InvokeTool on the tool's service with the tool's own deadline (plus the
 * hop) and turns whatever happens — result, ToolError, transport failure — into
 * an outcome. Only the caller's cancellation is thrown.
 */
export async function invokeTool(input: InvokeInput, logger: Logger): Promise<ToolOutcome> {
  const { definition, client } = input.tool;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const timeout = definition.metadata?.timeout;
  const toolTimeoutMs = timeout ? Number(timeout.seconds) * 1000 + timeout.nanos / 1e6 : 5_000;
  const fail = (code: Parameters<typeof failedOutcome>[2], message: string, retryable: boolean) =>
    failedOutcome(input.toolCallId, definition.name, code, message, retryable, elapsed());
  try {
    const res = await client.invokeTool(
      {
        toolCallId: input.toolCallId,
        toolName: definition.name,
        argumentsJson: input.argumentsJson,
        principal: input.principal,
        idempotencyKey: input.idempotencyKey,
      },
      // The service enforces the tool's own timeout; the extra second covers the hop.
      { timeoutMs: toolTimeoutMs + 1_000, signal: input.signal },
    );
    if (res.outcome.case === 'resultJson') {
      return {
        toolCallId: input.toolCallId,
        toolName: definition.name,
        success: true,
        errorCode: '',
        errorMessage: '',
        content: res.outcome.value,
        durationMs: elapsed(),
        cached: false,
      };
    }
    const error = res.outcome.value;
    if (!error) return fail('INTERNAL', 'the tool service gave no result', false);
    return fail(toolErrorName(error.code), error.message, error.retryable);
  } catch (error) {
    if (input.signal.aborted) throw error;
    const code = error instanceof ConnectError ? error.code : Code.Unknown;
    logger.warn(
      { err: error, tool: definition.name, address: input.tool.address },
      'tool call failed in transport',
    );
    if (code === Code.DeadlineExceeded) return fail('TIMEOUT', 'the tool did not answer in time', true);
    if (code === Code.Unavailable || code === Code.Unknown)
      return fail('UNAVAILABLE', 'the tool service is unavailable', true);
    if (code === Code.ResourceExhausted) return fail('RATE_LIMITED', 'the tool service is overloaded', true);
    return fail('INTERNAL', 'the tool call failed', false);
  }
}
