// Tools served in process: a real ToolService implementation behind connect's router
// transport, registered as the orchestrator's registry would, so the real executor,
// InvokeTool path and validation run against it.
import { create } from '@bufbuild/protobuf';
import { durationFromMs } from '@bufbuild/protobuf/wkt';
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { createManualClock } from '@toolmesh/clock';
import {
  type InvokeToolRequest,
  SideEffect,
  ToolDefinitionSchema,
  ToolErrorCode,
  ToolService,
} from '@toolmesh/proto';
import { createCircuitBreaker } from '@toolmesh/resilience';
import {
  compileArgumentValidator,
  type RegisteredTool,
  type ToolEndpoint,
  type ToolRegistry,
} from '../../src/tools/index.ts';

/** A tool of the test world. */
export interface WorldTool {
  name: string;
  permission: string;
  sideEffect?: 'read' | 'write';
  allowParallel?: boolean;
  schema?: Record<string, unknown>;
  maxOutputChars?: number;
  summaryFields?: string[];
  sensitiveFields?: string[];
  /** The tool's work; a thrown error becomes a ToolError. */
  run: (args: Record<string, unknown>, request: InvokeToolRequest) => unknown;
}

/** A promise the test resolves when it wants: holds a tool call open. */
export interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

/** Creates a {@link Gate}. */
export function gate(): Gate {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

const anyObject = { type: 'object' };

/**
 * Serves `tools` in process. `invocations` lists every InvokeTool the service received;
 * a repeated idempotency key answers the stored result without running again, as the
 * tool SDK does.
 */
export function createToolWorld(tools: WorldTool[]) {
  const invocations: InvokeToolRequest[] = [];
  const stored = new Map<string, string>();
  const byName = new Map(tools.map((t) => [t.name, t]));
  const transport = createRouterTransport(({ service }) => {
    service(ToolService, {
      listTools: () => ({ tools: registered.map((t) => t.definition) }),
      async invokeTool(req) {
        invocations.push(req);
        const known = stored.get(req.idempotencyKey);
        if (known !== undefined) return { outcome: { case: 'resultJson', value: known } };
        const tool = byName.get(req.toolName);
        if (!tool) {
          return {
            outcome: { case: 'error', value: { code: ToolErrorCode.NOT_FOUND, message: 'no such tool' } },
          };
        }
        try {
          const result = JSON.stringify(await tool.run(JSON.parse(req.argumentsJson), req));
          if (req.idempotencyKey) stored.set(req.idempotencyKey, result);
          return { outcome: { case: 'resultJson', value: result } };
        } catch (error) {
          return {
            outcome: {
              case: 'error',
              value: { code: ToolErrorCode.INTERNAL, message: (error as Error).message, retryable: false },
            },
          };
        }
      },
    });
  });
  // The endpoint's breaker as the registry makes it; its clock stands still, nothing here waits on it.
  const breaker = createCircuitBreaker({
    failureThreshold: 5,
    halfOpenAfterMs: 5_000,
    clock: createManualClock(),
  });
  const endpoint: ToolEndpoint = {
    address: 'in-process',
    client: createClient(ToolService, transport),
    breaker,
    available: () => breaker.retryAfterMs() === 0,
    retryAfterMs: () => breaker.retryAfterMs(),
    state: () => breaker.state(),
  };
  const registered: RegisteredTool[] = tools.map((t) => {
    const parameters = t.schema ?? anyObject;
    return {
      definition: create(ToolDefinitionSchema, {
        name: t.name,
        description: `${t.name.replaceAll('_', ' ')}.`,
        inputSchemaJson: JSON.stringify(parameters),
        metadata: {
          permission: t.permission,
          sideEffect: t.sideEffect === 'write' ? SideEffect.WRITE : SideEffect.READ,
          allowParallel: t.allowParallel ?? false,
          idempotent: t.sideEffect !== 'write',
          timeout: durationFromMs(5_000),
          maxOutputChars: t.maxOutputChars ?? 0,
          summaryFields: t.summaryFields ?? [],
          sensitiveFields: t.sensitiveFields ?? [],
        },
      }),
      parameters,
      validate: compileArgumentValidator(parameters),
      endpoints: [endpoint],
    };
  });
  const registry: ToolRegistry = {
    discovery: 'static',
    get: (name) => registered.find((t) => t.definition.name === name),
    list: () => [...registered],
    endpoints: () => [{ endpoint, tools: registered.map((t) => t.definition) }],
    refresh: async () => {},
    start: async () => {},
    stop: async () => {},
  };
  return { registry, invocations };
}

/** What {@link createToolWorld} serves. */
export type ToolWorld = ReturnType<typeof createToolWorld>;
