import { Code, ConnectError } from '@connectrpc/connect';
import type { Principal } from '@toolmesh/proto';
import { type ToolErrorName, toolErrorName } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import type { ToolAdmission } from './tool-admission.ts';
import type { RegisteredTool } from './tool-registry.ts';

/** A validated call, ready to run. */
export interface PlannedCall {
  toolCallId: string;
  tool: RegisteredTool;
  /** Canonical JSON arguments. */
  argumentsJson: string;
  idempotencyKey: string;
}

/** How one tool call ended; `content` is what the model reads in the tool message. */
export interface ToolOutcome {
  toolCallId: string;
  toolName: string;
  success: boolean;
  errorCode: ToolErrorName | '';
  errorMessage: string;
  content: string;
  durationMs: number;
}

/** Hooks to follow execution live (ChatStream). */
export interface ExecutionObserver {
  onStart?(call: PlannedCall): void;
  onFinish?(outcome: ToolOutcome): void;
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
  };
}

/** Runs tool calls on their tool services as the end user. */
export interface ToolExecutor {
  /**
   * Parallel-safe calls run concurrently, the others one at a time in the model's
   * order; outcomes come back in the order of `calls`.
   */
  executeAll(
    calls: PlannedCall[],
    principal: Principal,
    signal: AbortSignal,
    observer?: ExecutionObserver,
  ): Promise<ToolOutcome[]>;
}

/** Options of {@link createToolExecutor}. */
export interface ToolExecutorOptions {
  logger: Logger;
  /** Rate and concurrency limits each call must pass; absent means none. */
  admission?: ToolAdmission;
}

/** Creates the gRPC {@link ToolExecutor}. */
export function createToolExecutor(options: ToolExecutorOptions): ToolExecutor {
  const { logger, admission } = options;

  async function executeOne(
    call: PlannedCall,
    principal: Principal,
    signal: AbortSignal,
  ): Promise<ToolOutcome> {
    const name = call.tool.definition.name;
    const admitted = admission ? await admission(name, principal.userId, signal) : { release: () => {} };
    if ('refused' in admitted) {
      const seconds = Math.max(1, Math.ceil(admitted.retryAfterMs / 1000));
      return failedOutcome(
        call.toolCallId,
        name,
        'RATE_LIMITED',
        `${admitted.refused}; retry in ${seconds} s`,
        true,
      );
    }
    try {
      return await invoke(call, principal, signal);
    } finally {
      admitted.release();
    }
  }

  async function invoke(call: PlannedCall, principal: Principal, signal: AbortSignal): Promise<ToolOutcome> {
    const { definition, client } = call.tool;
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const timeout = definition.metadata?.timeout;
    const toolTimeoutMs = timeout ? Number(timeout.seconds) * 1000 + timeout.nanos / 1e6 : 5_000;
    try {
      const res = await client.invokeTool(
        {
          toolCallId: call.toolCallId,
          toolName: definition.name,
          argumentsJson: call.argumentsJson,
          principal,
          idempotencyKey: call.idempotencyKey,
        },
        // The service enforces the tool's own timeout; the extra second covers the hop.
        { timeoutMs: toolTimeoutMs + 1_000, signal },
      );
      if (res.outcome.case === 'resultJson') {
        return {
          toolCallId: call.toolCallId,
          toolName: definition.name,
          success: true,
          errorCode: '',
          errorMessage: '',
          content: res.outcome.value,
          durationMs: elapsed(),
        };
      }
      const error = res.outcome.value;
      return failedOutcome(
        call.toolCallId,
        definition.name,
        error ? toolErrorName(error.code) : 'INTERNAL',
        error?.message ?? 'the tool service gave no result',
        error?.retryable ?? false,
        elapsed(),
      );
    } catch (error) {
      if (signal.aborted) throw error;
      const code = error instanceof ConnectError ? error.code : Code.Unknown;
      logger.warn(
        { err: error, tool: definition.name, address: call.tool.address },
        'tool call failed in transport',
      );
      if (code === Code.DeadlineExceeded) {
        return failedOutcome(
          call.toolCallId,
          definition.name,
          'TIMEOUT',
          'the tool did not answer in time',
          true,
          elapsed(),
        );
      }
      if (code === Code.Unavailable || code === Code.Unknown) {
        return failedOutcome(
          call.toolCallId,
          definition.name,
          'UNAVAILABLE',
          'the tool service is unavailable',
          true,
          elapsed(),
        );
      }
      if (code === Code.ResourceExhausted) {
        return failedOutcome(
          call.toolCallId,
          definition.name,
          'RATE_LIMITED',
          'the tool service is overloaded',
          true,
          elapsed(),
        );
      }
      return failedOutcome(
        call.toolCallId,
        definition.name,
        'INTERNAL',
        'the tool call failed',
        false,
        elapsed(),
      );
    }
  }

  return {
    async executeAll(calls, principal, signal, observer) {
      const outcomes = new Array<ToolOutcome>(calls.length);
      const run = async (call: PlannedCall, index: number) => {
        observer?.onStart?.(call);
        const outcome = await executeOne(call, principal, signal);
        outcomes[index] = outcome;
        observer?.onFinish?.(outcome);
      };
      const indexed = calls.map((call, index) => ({ call, index }));
      const parallel = indexed.filter(({ call }) => call.tool.definition.metadata?.allowParallel);
      const sequential = indexed.filter(({ call }) => !call.tool.definition.metadata?.allowParallel);
      await Promise.all([
        ...parallel.map(({ call, index }) => run(call, index)),
        (async () => {
          for (const { call, index } of sequential) await run(call, index);
        })(),
      ]);
      return outcomes;
    },
  };
}
