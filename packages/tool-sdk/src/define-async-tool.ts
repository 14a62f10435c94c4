import type { Principal } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import type { z } from 'zod';
import { defineTool, type Tool, type ToolContext, type ToolMetadataInput } from './define-tool.ts';

/** What a task's `run` knows about the attempt it serves. */
export interface TaskContext {
  /** The end user who called the tool; the task runs as this user. */
  principal: Principal;
  taskId: string;
  /** 1 on the first attempt, 2 on the first retry … */
  attempt: number;
  /** Aborted when the attempt times out, its worker stops or another worker took the task over. */
  signal: AbortSignal;
  /** Records progress (0–100, rounded and clamped) for GetTask/WatchTask; it also extends the lease. */
  reportProgress: (percent: number) => Promise<void>;
  logger: Logger;
}

/** An async tool as a team defines it. */
export interface AsyncToolSpec<S extends z.ZodType> {
  name: string;
  /** See ToolSpec.version. */
  version?: string;
  /** Written for the model; say that the tool answers with a task_id. */
  description: string;
  input: S;
  /** As for defineTool; `async: true` is implied and `timeoutMs` bounds the enqueue call only. */
  metadata: Omit<ToolMetadataInput, 'async'>;
  /**
   * Runs at call time, before the task is enqueued, as a normal tool handler: throw a
   * ToolFailure (e.g. NOT_FOUND) so the model learns of a hopeless call at once.
   */
  precheck?: (args: z.output<S>, ctx: ToolContext) => Promise<void>;
  /** The work. Throw a retryable ToolFailure (or anything unexpected) to be retried. */
  run: (args: z.output<S>, ctx: TaskContext) => Promise<unknown>;
  /** Attempts before the task fails; default 3. */
  maxAttempts?: number;
  /** Upper bound of one attempt; default 5 minutes. */
  runTimeoutMs?: number;
}

/** A defined async tool: a {@link Tool} whose handler is the precheck, plus the work the worker runs. */
export interface AsyncTool extends Tool {
  readonly run: (args: unknown, ctx: TaskContext) => Promise<unknown>;
  readonly maxAttempts: number;
  readonly runTimeoutMs: number;
}

/**
 * Defines an async tool. Served by createToolService (given `tasks`), a call is
 * validated like any other, then enqueued, and answered at once with
 * `{"task_id": "task_…", "status": "queued"}`; a task worker runs it.
 */
export function defineAsyncTool<S extends z.ZodType>(spec: AsyncToolSpec<S>): AsyncTool {
  const precheck = spec.precheck;
  const tool = defineTool({
    name: spec.name,
    version: spec.version,
    description: spec.description,
    input: spec.input,
    metadata: { ...spec.metadata, async: true },
    handler: async (args, ctx) => {
      await precheck?.(args, ctx);
      return undefined;
    },
  });
  const maxAttempts = spec.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error('maxAttempts must be ≥ 1');
  return {
    ...tool,
    run: spec.run as AsyncTool['run'],
    maxAttempts,
    runTimeoutMs: spec.runTimeoutMs ?? 300_000,
  };
}

/** True for tools made by {@link defineAsyncTool}. */
export function isAsyncTool(tool: Tool): tool is AsyncTool {
  return typeof (tool as Partial<AsyncTool>).run === 'function';
}
