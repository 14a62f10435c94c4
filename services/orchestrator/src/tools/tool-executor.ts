import { type Clock, systemClock } from '@toolmesh/clock';
import { type Principal, SideEffect } from '@toolmesh/proto';
import { createRetryBudget, type RetryBudget } from '@toolmesh/rpc';
import { type Logger, maskSensitiveJson } from '@toolmesh/telemetry';
import type { ResultCache } from '../core-types.ts';
import type { ExecutionEnd, ExecutionLedger, ExecutionStart } from '../store/index.ts';
import { invokeTool } from './invoke-tool.ts';
import type { ToolAdmission } from './tool-admission.ts';
import type { ToolCredentials } from './tool-credentials.ts';
import { failedOutcome, type ToolOutcome } from './tool-outcome.ts';
import type { RegisteredTool } from './tool-registry.ts';

/** A validated call, ready to run. */
export interface PlannedCall {
  toolCallId: string;
  tool: RegisteredTool;
  /** Canonical JSON arguments. */
  argumentsJson: string;
  idempotencyKey: string;
  /** Set for an approved write: which action, approved by whom. */
  actionId?: string;
  approver?: string;
}

/** Who runs the calls, for which request. */
export interface ExecutionContext {
  principal: Principal;
  requestId: string;
  conversationId: string;
  signal: AbortSignal;
  /**
   * Takes the ledger and audit write of an ended call to make durable later, with the
   * caller's other writes (a turn's round; an approved write's result message, so the
   * two commit together); absent: written before the outcome is returned. A write's
   * `running` row is never deferred: it is committed before the call leaves.
   */
  later?: (write: () => Promise<unknown>) => void;
}

/** Hooks to follow execution live (ChatStream). */
export interface ExecutionObserver {
  onStart?(call: PlannedCall): void;
  onFinish?(outcome: ToolOutcome): void;
}

/** Runs tool calls on their tool services as the end user. */
export interface ToolExecutor {
  /**
   * Parallel-safe calls run concurrently, the others one at a time in the model's
   * order; outcomes come back in the order of `calls`.
   */
  executeAll(
    calls: PlannedCall[],
    ctx: ExecutionContext,
    observer?: ExecutionObserver,
  ): Promise<ToolOutcome[]>;
}

/** Options of {@link createToolExecutor}. */
export interface ToolExecutorOptions {
  logger: Logger;
  /** Signs every call's mesh credential: tool services run nothing without one. */
  credentials: ToolCredentials;
  ledger: ExecutionLedger;
  /** Rate and concurrency limits each call must pass; absent means none. */
  admission?: ToolAdmission;
  cache?: ResultCache;
  /** Bounds retries across all calls; default 20% of traffic plus 5/s. */
  retryBudget?: RetryBudget;
  /** Times the pauses between attempts on another replica; default the system clock. */
  clock?: Clock;
  /** Wraps each call (span, metrics; see createToolInstrumentation); absent runs it bare. */
  instrument?: ToolInstrumentation;
}

/** Runs `execute` (one whole call: ledger, cache, limits, InvokeTool) and observes it. */
export type ToolInstrumentation = (
  call: PlannedCall,
  execute: () => Promise<ToolOutcome>,
) => Promise<ToolOutcome>;

const durationMs = (d: { seconds: bigint; nanos: number } | undefined) =>
  d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 0;

function taskIdOf(content: string): string | undefined {
  try {
    const parsed = JSON.parse(content) as { task_id?: unknown };
    return typeof parsed.task_id === 'string' ? parsed.task_id.slice(0, 128) : undefined;
  } catch {
    return undefined;
  }
}

// The end of a call its caller cancelled after it left: the ledger says unknown (the
// tool may have run) and the audit says CANCELLED; reconciliation takes it from there.
const cutOff = (startedAt: number, now: number): ExecutionEnd => ({
  success: false,
  resultCode: 'CANCELLED',
  durationMs: Math.max(0, now - startedAt),
  cached: false,
  unknown: true,
});

/** Creates the {@link ToolExecutor}: cache, limits, ledger and audit around every InvokeTool. */
export function createToolExecutor(options: ToolExecutorOptions): ToolExecutor {
  const { logger, admission, cache, ledger } = options;
  const clock = options.clock ?? systemClock;
  const retryBudget = options.retryBudget ?? createRetryBudget({ clock });

  async function executeOne(call: PlannedCall, ctx: ExecutionContext): Promise<ToolOutcome> {
    const { definition } = call.tool;
    const metadata = definition.metadata;
    const write = metadata?.sideEffect === SideEffect.WRITE;
    const cacheTtlMs = write ? 0 : durationMs(metadata?.cacheTtl);
    const execution: ExecutionStart = {
      requestId: ctx.requestId,
      conversationId: ctx.conversationId,
      toolCallId: call.toolCallId,
      toolName: definition.name,
      userId: ctx.principal.userId,
      tenantId: ctx.principal.tenantId,
      sideEffect: write ? 'write' : 'read',
      idempotencyKey: call.idempotencyKey,
      toolAddress: call.tool.endpoints[0]?.address ?? '',
      toolVersion: call.tool.version ?? definition.version,
      actionId: call.actionId,
      approver: call.approver,
      maskedArgumentsJson: maskSensitiveJson(call.argumentsJson, metadata?.sensitiveFields),
    };
    const startedAt = clock.now();
    const end = (outcome: ToolOutcome): ExecutionEnd => ({
      success: outcome.success,
      resultCode: outcome.success ? 'OK' : outcome.errorCode || 'INTERNAL',
      durationMs: outcome.durationMs,
      cached: outcome.cached,
      taskId: outcome.success && metadata?.async ? taskIdOf(outcome.content) : undefined,
    });
    // A read needs no ledger row before it leaves (running it again after a crash is
    // safe): its ledger row and audit record are written once it ended, in one go.
    const recorded = async (ended: ExecutionEnd) => {
      if (ctx.later) ctx.later(() => ledger.record(execution, ended));
      else await ledger.record(execution, ended);
    };
    if (!write) {
      const hit = cacheTtlMs > 0 ? await cached(call, ctx) : undefined;
      if (hit) {
        await recorded(end(hit));
        return hit;
      }
      let outcome: ToolOutcome;
      try {
        outcome = await run(call, ctx, cacheTtlMs);
      } catch (error) {
        await recorded(cutOff(startedAt, clock.now())).catch((e: unknown) =>
          logger.warn({ err: e, tool: definition.name }, 'recording a cut-off read failed'),
        );
        throw error;
      }
      await recorded(end(outcome));
      return outcome;
    }
    // A write is running in the ledger before it leaves, so a crash leaves a trace.
    const finish = await ledger.start(execution);
    let outcome: ToolOutcome;
    try {
      outcome = await run(call, ctx, cacheTtlMs);
    } catch (error) {
      // Left as `running` under this live replica, no reconciler would take the action
      // over and every Confirm would find it executing until the replica dies.
      await finish(cutOff(startedAt, clock.now())).catch((e: unknown) =>
        logger.warn({ err: e, tool: definition.name }, 'recording a cut-off write failed'),
      );
      throw error;
    }
    if (outcome.success) await cache?.invalidate(ctx.principal, call.argumentsJson);
    const ended = end(outcome);
    if (ctx.later) ctx.later(() => finish(ended));
    else await finish(ended);
    return outcome;
  }

  async function cached(call: PlannedCall, ctx: ExecutionContext): Promise<ToolOutcome | undefined> {
    const name = call.tool.definition.name;
    const hit = await cache?.lookup(ctx.principal, name, call.argumentsJson);
    if (hit === undefined) return undefined;
    return {
      toolCallId: call.toolCallId,
      toolName: name,
      success: true,
      errorCode: '',
      errorMessage: '',
      content: hit,
      durationMs: 0,
      cached: true,
    };
  }

  async function run(call: PlannedCall, ctx: ExecutionContext, cacheTtlMs: number): Promise<ToolOutcome> {
    const name = call.tool.definition.name;
    const admitted = admission ? await admission(name, ctx.principal, ctx.signal) : { release: () => {} };
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
      const outcome = await invokeTool(
        { ...call, principal: ctx.principal, requestId: ctx.requestId, signal: ctx.signal },
        { logger, retryBudget, clock, credentials: options.credentials },
      );
      if (outcome.success && cacheTtlMs > 0) {
        await cache?.store(ctx.principal, name, call.argumentsJson, outcome.content, cacheTtlMs);
      }
      return outcome;
    } finally {
      admitted.release();
    }
  }

  return {
    async executeAll(calls, ctx, observer) {
      const outcomes = new Array<ToolOutcome>(calls.length);
      const runAt = async (planned: PlannedCall, index: number) => {
        // The version this conversation is pinned to runs (sticky by conversation and tool),
        // whatever path planned the call: a turn, an approval, the ToolCallService.
        const tool = planned.tool.forConversation?.(ctx.conversationId) ?? planned.tool;
        const call = tool === planned.tool ? planned : { ...planned, tool };
        observer?.onStart?.(call);
        const execute = () => executeOne(call, ctx);
        const outcome = await (options.instrument ? options.instrument(call, execute) : execute());
        outcomes[index] = outcome;
        observer?.onFinish?.(outcome);
      };
      const indexed = calls.map((call, index) => ({ call, index }));
      const parallel = indexed.filter(({ call }) => call.tool.definition.metadata?.allowParallel);
      const sequential = indexed.filter(({ call }) => !call.tool.definition.metadata?.allowParallel);
      await Promise.all([
        ...parallel.map(({ call, index }) => runAt(call, index)),
        (async () => {
          for (const { call, index } of sequential) await runAt(call, index);
        })(),
      ]);
      return outcomes;
    },
  };
}
