import type { Client } from '@connectrpc/connect';
import { type ToolDefinition, ToolService } from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import { type ArgumentValidator, compileArgumentValidator } from './argument-validator.ts';

/** A tool known to the orchestrator, with where it is served. */
export interface RegisteredTool {
  readonly definition: ToolDefinition;
  /** JSON Schema of the arguments, parsed once. */
  readonly parameters: Record<string, unknown>;
  /** Checks arguments against {@link parameters} before anything is sent. */
  readonly validate: ArgumentValidator;
  readonly address: string;
  readonly client: Client<typeof ToolService>;
}

/** Options of {@link createToolRegistry}. */
export interface ToolRegistryOptions {
  /** host:port of every tool service (static discovery). */
  addresses: string[];
  logger: Logger;
  /** Re-read ListTools this often, so new or changed tools appear; default 30 s. */
  refreshMs?: number;
}

/** The tools of every configured tool service, from their ListTools. */
export interface ToolRegistry {
  get(name: string): RegisteredTool | undefined;
  list(): RegisteredTool[];
  /** Reads ListTools of every service; a service that does not answer keeps its last known tools. */
  refresh(): Promise<void>;
  /** Refreshes until every service answered once (or the timeout), then periodically. */
  start(initialTimeoutMs?: number): Promise<void>;
  stop(): void;
}

/** Creates the {@link ToolRegistry} over static addresses. */
export function createToolRegistry(options: ToolRegistryOptions): ToolRegistry {
  const { logger } = options;
  const clients = new Map(
    options.addresses.map((address) => [
      address,
      createGrpcClient(ToolService, { address, defaultTimeoutMs: 5_000 }),
    ]),
  );
  const byService = new Map<string, RegisteredTool[]>();
  let byName = new Map<string, RegisteredTool>();
  let timer: NodeJS.Timeout | undefined;

  const rebuild = () => {
    const next = new Map<string, RegisteredTool>();
    for (const [address, tools] of byService) {
      for (const tool of tools) {
        const existing = next.get(tool.definition.name);
        if (existing) {
          logger.warn(
            { tool: tool.definition.name, address, kept: existing.address },
            'duplicate tool name ignored',
          );
          continue;
        }
        next.set(tool.definition.name, tool);
      }
    }
    byName = next;
  };

  const refreshOne = async (address: string, client: Client<typeof ToolService>) => {
    const res = await client.listTools({});
    const tools: RegisteredTool[] = [];
    for (const definition of res.tools) {
      try {
        const parameters = JSON.parse(definition.inputSchemaJson) as Record<string, unknown>;
        tools.push({
          definition,
          parameters,
          validate: compileArgumentValidator(parameters),
          address,
          client,
        });
      } catch {
        logger.warn({ tool: definition.name, address }, 'tool with an invalid JSON Schema ignored');
      }
    }
    byService.set(address, tools);
  };

  const refresh = async () => {
    const results = await Promise.allSettled(
      [...clients].map(([address, client]) => refreshOne(address, client)),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        logger.warn(
          { address: options.addresses[i], err: r.reason },
          'ListTools failed; keeping last known tools',
        );
      }
    });
    rebuild();
  };

  return {
    get: (name) => byName.get(name),
    list: () => [...byName.values()],
    refresh,
    async start(initialTimeoutMs = 30_000) {
      const deadline = Date.now() + initialTimeoutMs;
      await refresh();
      while (byService.size < clients.size && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await refresh();
      }
      logger.info({ tools: [...byName.keys()], services: byService.size }, 'tool registry loaded');
      timer = setInterval(() => void refresh(), options.refreshMs ?? 30_000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
