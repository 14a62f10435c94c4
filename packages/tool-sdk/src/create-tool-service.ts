import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { type Clock, systemClock } from '@toolmesh/clock';
import {
  type InvokeToolResponse,
  InvokeToolResponseSchema,
  type Principal,
  SideEffect,
  type ToolDefinition,
  ToolDefinitionSchema,
  ToolService,
} from '@toolmesh/proto';
import {
  type ServiceRegistration,
  serviceRegistration,
  type ToolErrorName,
  toolErrorCode,
} from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import { callCredential, delegatedCredentials } from './call-credential.ts';
import { classifyError } from './classify-error.ts';
import { createTaskStore, type TaskStore, type TaskStoreOptions } from './create-task-store.ts';
import { type AsyncTool, isAsyncTool } from './define-async-tool.ts';
import type { Tool, ToolContext } from './define-tool.ts';
import { timeoutSignal } from './timeout-signal.ts';

/** Options of {@link createToolService}. */
export interface ToolServiceOptions {
  /**
   * The tools; or a function read on every call, for a service whose tools change while it runs
   * (e.g. the MCP bridge): a new array is a new tool set, the same array the same set.
   */
  tools: Tool[] | (() => readonly Tool[]);
  logger: Logger;
  /** Largest arguments_json accepted; default 64 KiB. */
  maxArgumentBytes?: number;
  /** Where async tools enqueue their tasks; required when `tools` holds one. */
  tasks?: TaskStoreOptions;
  /** Times tool timeouts and `remainingMs` (and the task store's, unless `tasks` names one); default the system clock. */
  clock?: Clock;
}

const failure = (code: ToolErrorName, message: string, retryable = false): InvokeToolResponse =>
  create(InvokeToolResponseSchema, {
    outcome: { case: 'error', value: { code: toolErrorCode(code), message, retryable } },
  });

// zod issues without the offending values: the model needs the path and the rule.
function describeIssues(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(arguments)'}: ${i.message}`)
    .join('; ');
}

/** The current tools of a `tools` option, fixed or changing. */
export function currentTools(tools: ToolServiceOptions['tools']): () => readonly Tool[] {
  return typeof tools === 'function' ? tools : () => tools;
}

function toDefinition(t: Tool): ToolDefinition {
  const m = t.metadata;
  return create(ToolDefinitionSchema, {
    name: t.name,
    version: t.version,
    description: t.description,
    inputSchemaJson: t.inputJsonSchema,
    metadata: {
      timeout: durationFromMs(m.timeoutMs),
      maxConcurrency: m.maxConcurrency,
      idempotent: m.idempotent,
      permission: m.permission,
      cacheTtl: durationFromMs(m.cacheTtlMs),
      allowParallel: m.allowParallel,
      sideEffect: m.sideEffect === 'write' ? SideEffect.WRITE : SideEffect.READ,
      async: m.async,
      sensitiveFields: m.sensitiveFields,
      summaryFields: m.summaryFields,
      maxOutputChars: m.maxOutputChars,
      delegatedTools: m.delegatedTools,
    },
  });
}

/**
 * Serves tools as a toolmesh.v1.ToolService. Every call is checked here again,
 * whatever the orchestrator did: the mesh credential (verified by the server's mesh
 * interceptor, bound here to the tool, call id and idempotency key), permission,
 * argument size, JSON, the zod schema, concurrency and timeout. Failures are answered in-band as ToolError so the model
 * can repair its call.
 */
export function createToolService(options: ToolServiceOptions): ServiceRegistration {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const maxArgumentBytes = options.maxArgumentBytes ?? 64 * 1024;
  // Handlers still running, per tool: a handler that outlived its timeout still
  // holds its slot until it really ends.
  const running = new Map<string, number>();
  const store = options.tasks ? createTaskStore({ clock, ...options.tasks }) : undefined;
  const toolSet = currentTools(options.tools);
  let indexed: { list: readonly Tool[]; tools: Map<string, Tool>; definitions: ToolDefinition[] } | undefined;
  // Checked and indexed once per tool set: at creation, and when a changing set changes.
  const index = () => {
    const list = toolSet();
    if (indexed?.list === list) return indexed;
    const tools = new Map(list.map((t) => [t.name, t]));
    if (tools.size !== list.length) throw new Error('duplicate tool names');
    for (const t of list) {
      if (isAsyncTool(t) && !store) throw new Error(`async tool ${t.name} needs the tasks option`);
    }
    indexed = { list, tools, definitions: list.map(toDefinition) };
    return indexed;
  };
  index();

  // Runs the handler under the tool's timeout and the caller's cancellation. The
  // race answers at once on abort even if a handler ignores its signal.
  async function execute(
    tool: Tool,
    handler: Tool['handler'],
    args: unknown,
    callerSignal: AbortSignal,
    principal: Principal,
    req: InvokeIds,
  ) {
    const started = clock.now();
    const timeoutMs = tool.metadata.timeoutMs;
    const timeout = timeoutSignal(clock, timeoutMs, callerSignal);
    const { signal } = timeout;
    const log = logger.child({ tool: tool.name, tool_call_id: req.toolCallId, user: principal.userId });
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    running.set(tool.name, (running.get(tool.name) ?? 0) + 1);
    const work = handler(args, {
      principal,
      toolCallId: req.toolCallId,
      idempotencyKey: req.idempotencyKey,
      requestId: req.requestId,
      signal,
      remainingMs: () => Math.max(0, timeoutMs - (clock.now() - started)),
      logger: log,
      credentialFor: (name) => req.delegations.get(name),
    }).finally(() => running.set(tool.name, (running.get(tool.name) ?? 1) - 1));
    // A late rejection after the race was lost must not become an unhandled rejection.
    work.catch(() => {});
    try {
      return await Promise.race([work, aborted]);
    } finally {
      // The timer goes once the call answered; a handler that outlives it still holds its slot.
      timeout.cancel();
    }
  }

  interface InvokeIds {
    toolCallId: string;
    idempotencyKey: string;
    requestId: string;
    delegations: Map<string, string>;
  }

  return serviceRegistration(ToolService, {
    listTools() {
      return { tools: index().definitions };
    },
    async invokeTool(req, ctx) {
      const tool = index().tools.get(req.toolName);
      if (!tool) return failure('NOT_FOUND', `unknown tool "${req.toolName.slice(0, 64)}"`);
      // Thrown, not answered in-band: a call without a credential for exactly this call never runs.
      const credential = callCredential(ctx, req, tool);
      const principal = credential.principal;
      if (!principal.permissions.includes(tool.metadata.permission)) {
        return failure('PERMISSION_DENIED', `missing permission ${tool.metadata.permission}`);
      }
      if (Buffer.byteLength(req.argumentsJson) > maxArgumentBytes) {
        return failure('INVALID_ARGUMENT', `arguments exceed ${maxArgumentBytes} bytes`);
      }
      let raw: unknown;
      try {
        raw = req.argumentsJson.trim() === '' ? {} : JSON.parse(req.argumentsJson);
      } catch {
        return failure('INVALID_ARGUMENT', 'arguments are not valid JSON');
      }
      const parsed = tool.input.safeParse(raw);
      if (!parsed.success) return failure('INVALID_ARGUMENT', describeIssues(parsed.error));

      const limit = tool.metadata.maxConcurrency;
      if (limit > 0 && (running.get(tool.name) ?? 0) >= limit) {
        return failure('RATE_LIMITED', `${tool.name} is at its concurrency limit, retry shortly`, true);
      }
      const started = performance.now();
      const handler =
        store && isAsyncTool(tool) ? enqueueing(store, tool, JSON.stringify(raw)) : tool.handler;
      try {
        const result = await execute(tool, handler, parsed.data, ctx.signal, principal, {
          toolCallId: req.toolCallId,
          idempotencyKey: req.idempotencyKey,
          requestId: credential.requestId,
          delegations: delegatedCredentials(ctx),
        });
        return create(InvokeToolResponseSchema, {
          outcome: { case: 'resultJson', value: JSON.stringify(result ?? null) },
        });
      } catch (error) {
        const c = classifyError(error, tool.name, tool.metadata.timeoutMs);
        if (c.unexpected)
          logger.error({ err: error, tool: tool.name, tool_call_id: req.toolCallId }, 'tool failed');
        // A timed-out write may still commit: only idempotent tools are safe to retry blindly.
        const retryable = c.code === 'TIMEOUT' ? c.retryable && tool.metadata.idempotent : c.retryable;
        return failure(c.code, c.message, retryable);
      } finally {
        logger.debug(
          { tool: tool.name, duration_ms: Math.round(performance.now() - started) },
          'tool executed',
        );
      }
    },
  });
}

// An async tool's call: its precheck runs as a normal handler, then the task is
// enqueued and the call answers at once. The raw arguments are stored (the worker
// validates them again), so schemas with transforms survive the round trip.
function enqueueing(store: TaskStore, tool: AsyncTool, argumentsJson: string): Tool['handler'] {
  return async (args: unknown, ctx: ToolContext) => {
    await tool.handler(args, ctx);
    // Nobody waits for the answer any more: better no task than an orphan.
    ctx.signal.throwIfAborted();
    const { userId, tenantId, permissions } = ctx.principal;
    const task = await store.enqueue({
      toolName: tool.name,
      principal: { userId, tenantId, permissions },
      argumentsJson,
      idempotencyKey: ctx.idempotencyKey,
      maxAttempts: tool.maxAttempts,
    });
    return { task_id: task.taskId, status: task.status };
  };
}
