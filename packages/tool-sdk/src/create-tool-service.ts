import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import {
  type InvokeToolResponse,
  InvokeToolResponseSchema,
  SideEffect,
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
import type { Tool, ToolContext } from './define-tool.ts';
import { ToolFailure } from './tool-failure.ts';

/** Options of {@link createToolService}. */
export interface ToolServiceOptions {
  tools: Tool[];
  logger: Logger;
  /** Largest arguments_json accepted; default 64 KiB. */
  maxArgumentBytes?: number;
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

/**
 * Serves tools as a toolmesh.v1.ToolService. Every call is checked here again,
 * whatever the orchestrator did: permission, argument size, JSON, the zod schema,
 * concurrency and timeout. Failures are answered in-band as ToolError so the model
 * can repair its call.
 */
export function createToolService(options: ToolServiceOptions): ServiceRegistration {
  const { logger } = options;
  const maxArgumentBytes = options.maxArgumentBytes ?? 64 * 1024;
  const tools = new Map(options.tools.map((t) => [t.name, t]));
  if (tools.size !== options.tools.length) throw new Error('duplicate tool names');
  const running = new Map<string, number>();

  const definitions = options.tools.map((t) =>
    create(ToolDefinitionSchema, {
      name: t.name,
      description: t.description,
      inputSchemaJson: t.inputJsonSchema,
      metadata: {
        timeout: durationFromMs(t.metadata.timeoutMs),
        maxConcurrency: t.metadata.maxConcurrency,
        idempotent: t.metadata.idempotent,
        permission: t.metadata.permission,
        cacheTtl: durationFromMs(t.metadata.cacheTtlMs),
        allowParallel: t.metadata.allowParallel,
        sideEffect: t.metadata.sideEffect === 'write' ? SideEffect.WRITE : SideEffect.READ,
        async: t.metadata.async,
        sensitiveFields: t.metadata.sensitiveFields,
      },
    }),
  );

  // Runs the handler under the tool's timeout and the caller's cancellation. The
  // race returns at once on abort even if a handler ignores its signal.
  async function execute(
    tool: Tool,
    args: unknown,
    callerSignal: AbortSignal,
    call: Omit<ToolContext, 'signal' | 'logger'>,
  ) {
    const signal = AbortSignal.any([callerSignal, AbortSignal.timeout(tool.metadata.timeoutMs)]);
    const log = logger.child({ tool: tool.name, tool_call_id: call.toolCallId, user: call.principal.userId });
    const aborted = new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    return Promise.race([tool.handler(args, { ...call, signal, logger: log }), aborted]);
  }

  return serviceRegistration(ToolService, {
    listTools() {
      return { tools: definitions };
    },
    async invokeTool(req, ctx) {
      const tool = tools.get(req.toolName);
      if (!tool) return failure('NOT_FOUND', `unknown tool "${req.toolName.slice(0, 64)}"`);
      const principal = req.principal;
      if (!principal?.userId) return failure('PERMISSION_DENIED', 'no principal');
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

      const inFlight = running.get(tool.name) ?? 0;
      if (tool.metadata.maxConcurrency > 0 && inFlight >= tool.metadata.maxConcurrency) {
        return failure('RATE_LIMITED', `${tool.name} is at its concurrency limit, retry shortly`, true);
      }
      running.set(tool.name, inFlight + 1);
      const started = performance.now();
      try {
        const result = await execute(tool, parsed.data, ctx.signal, {
          toolCallId: req.toolCallId,
          idempotencyKey: req.idempotencyKey,
          principal,
        });
        return create(InvokeToolResponseSchema, {
          outcome: { case: 'resultJson', value: JSON.stringify(result ?? null) },
        });
      } catch (error) {
        if (error instanceof ToolFailure) return failure(error.code, error.message, error.retryable);
        if (ctx.signal.aborted)
          return failure('TIMEOUT', 'the caller cancelled or its deadline passed', true);
        if (error instanceof DOMException && error.name === 'TimeoutError') {
          return failure(
            'TIMEOUT',
            `${tool.name} timed out after ${tool.metadata.timeoutMs} ms`,
            tool.metadata.idempotent,
          );
        }
        logger.error({ err: error, tool: tool.name, tool_call_id: req.toolCallId }, 'tool failed');
        return failure('INTERNAL', 'internal error in the tool');
      } finally {
        running.set(tool.name, (running.get(tool.name) ?? 1) - 1);
        logger.debug(
          { tool: tool.name, duration_ms: Math.round(performance.now() - started) },
          'tool executed',
        );
      }
    },
  });
}
