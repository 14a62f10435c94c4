import { type Clock, systemClock } from '@toolmesh/clock';
import type { Principal } from '@toolmesh/proto';
import { CircuitOpenError, retryWithBackoff } from '@toolmesh/resilience';
import {
  isBrokenInTransit,
  isUnsentError,
  type RetryBudget,
  type ToolFailureInfo,
  toolCallFailure,
  toolErrorName,
  toolFailure,
} from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';

import type { ToolCredentials } from './tool-credentials.ts';
import type { ToolEndpoint } from './tool-endpoint.ts';
import { failedOutcome, type ToolOutcome } from './tool-outcome.ts';
import type { RegisteredTool } from './tool-registry.ts';

/** One InvokeTool request as the executor sends it. */
export interface InvokeInput {
  tool: RegisteredTool;
  toolCallId: string;
  argumentsJson: string;
  idempotencyKey: string;
  principal: Principal;
  requestId: string;
  signal: AbortSignal;
}

/** What every call shares. */
export interface InvokeDeps {
  logger: Logger;
  /** Signs each call's credential (and its delegations). */
  credentials: ToolCredentials;
  retryBudget: RetryBudget;
  /** Attempts per call, the first included; default 3. */
  maxAttempts?: number;
  /** Times the pauses between attempts; default the system clock. */
  clock?: Clock;
}

// A transport failure that may be retried on another replica.
class RetriableTransportError extends Error {
  constructor(cause: unknown) {
    super('retriable transport failure', { cause });
  }
}

// No replica is reachable now (every breaker open).
class NoEndpointError extends Error {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number) {
    super('no endpoint available');
    this.retryAfterMs = retryAfterMs;
  }
}

let roundRobin = 0;

// Next replica whose breaker lets calls through, skipping ones that just failed this call.
function pickEndpoint(endpoints: readonly ToolEndpoint[], failed: Set<ToolEndpoint>): ToolEndpoint {
  const open = endpoints.filter((e) => e.available());
  const candidates = open.filter((e) => !failed.has(e));
  const pool = candidates.length ? candidates : open;
  const chosen = pool[roundRobin++ % Math.max(1, pool.length)];
  if (!chosen) throw new NoEndpointError(Math.min(...endpoints.map((e) => e.retryAfterMs()), 60_000));
  return chosen;
}

/**
 * Calls InvokeTool on one replica of the tool, through that replica's circuit
 * breaker. Transport failures are retried on another replica with exponential
 * backoff and jitter — only where safe (idempotent tools, or requests that were
 * never sent) and only within the retry budget. Whatever happens becomes an
 * outcome; only the caller's cancellation is thrown.
 */
export async function invokeTool(input: InvokeInput, deps: InvokeDeps): Promise<ToolOutcome> {
  const { definition } = input.tool;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const timeout = definition.metadata?.timeout;
  const toolTimeoutMs = timeout ? Number(timeout.seconds) * 1000 + timeout.nanos / 1e6 : 5_000;
  const idempotent = definition.metadata?.idempotent ?? false;
  // InvokeTool calls actually made, so callers can tell a retried call.
  let attempts = 0;
  const fail = (code: Parameters<typeof failedOutcome>[2], message: string, retryable: boolean) => ({
    ...failedOutcome(input.toolCallId, definition.name, code, message, retryable, elapsed()),
    attempts,
  });
  const failWith = (failure: ToolFailureInfo) => fail(failure.code, failure.message, failure.retryable);
  const failedEndpoints = new Set<ToolEndpoint>();

  deps.retryBudget.deposit();
  // Backoff between attempts: exponential from 20 ms, capped at 400 ms, with full jitter.
  const retryOnAnotherReplica = {
    maxAttempts: deps.maxAttempts ?? 3,
    initialDelayMs: 20,
    maxDelayMs: 400,
    shouldRetry: (e: unknown) => e instanceof RetriableTransportError && deps.retryBudget.withdraw(),
    signal: input.signal,
    clock: deps.clock ?? systemClock,
  };
  try {
    // One credential for every attempt: the call is the same, whichever replica takes it.
    const headers = await deps.credentials.forCall({
      principal: input.principal,
      requestId: input.requestId,
      toolName: definition.name,
      toolCallId: input.toolCallId,
      idempotencyKey: input.idempotencyKey,
      delegatedTools: definition.metadata?.delegatedTools,
    });
    const res = await retryWithBackoff(async () => {
      const endpoint = pickEndpoint(input.tool.endpoints, failedEndpoints);
      try {
        return await endpoint.breaker.execute(() => {
          attempts++;
          return endpoint.client.invokeTool(
            {
              toolCallId: input.toolCallId,
              toolName: definition.name,
              argumentsJson: input.argumentsJson,
              idempotencyKey: input.idempotencyKey,
            },
            // The service enforces the tool's own timeout; the extra second covers the hop.
            { timeoutMs: toolTimeoutMs + 1_000, signal: input.signal, headers },
          );
        });
      } catch (error) {
        failedEndpoints.add(endpoint);
        if (input.signal.aborted) throw error;
        deps.logger.warn(
          { err: error, tool: definition.name, address: endpoint.address },
          'tool call failed in transport',
        );
        if (error instanceof CircuitOpenError) throw new RetriableTransportError(error);
        if (isUnsentError(error) || (idempotent && isBrokenInTransit(error))) {
          throw new RetriableTransportError(error);
        }
        throw error;
      }
    }, retryOnAnotherReplica);
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
        attempts,
      };
    }
    const error = res.outcome.value;
    if (!error) return failWith(toolFailure('TOOL_NO_RESULT'));
    return fail(toolErrorName(error.code), error.message, error.retryable);
  } catch (thrown) {
    if (input.signal.aborted) throw thrown;
    const error = thrown instanceof RetriableTransportError ? thrown.cause : thrown;
    const tool = { tool: definition.name };
    if (error instanceof NoEndpointError) {
      return failWith(toolFailure('TOOL_UNAVAILABLE', { retryAfterMs: error.retryAfterMs, metadata: tool }));
    }
    if (error instanceof CircuitOpenError)
      return failWith(toolFailure('TOOL_UNAVAILABLE', { metadata: tool }));
    const failure = toolCallFailure(error, { idempotent });
    if (failure.reason === 'TOOL_CALL_FAILED') deps.logger.error({ err: error, ...tool }, 'tool call failed');
    return failWith(failure);
  }
}
