import type { ToolDefinition } from '@toolmesh/proto';
import type { Logger } from '@toolmesh/telemetry';
import { type ArgumentValidator, compileArgumentValidator } from './argument-validator.ts';
import { createToolEndpoint, type EndpointPolicyOptions, type ToolEndpoint } from './tool-endpoint.ts';

/** A tool known to the orchestrator, with every replica that serves it. */
export interface RegisteredTool {
  readonly definition: ToolDefinition;
  /** JSON Schema of the arguments, parsed once. */
  readonly parameters: Record<string, unknown>;
  /** Checks arguments against {@link parameters} before anything is sent. */
  readonly validate: ArgumentValidator;
  /** Replicas serving the tool, in configuration order. */
  readonly endpoints: readonly ToolEndpoint[];
}

/** Options of {@link createToolRegistry}. */
export interface ToolRegistryOptions {
  /**
   * host:port of every tool service replica (static discovery). Addresses that
   * publish the same tool are replicas of it; calls are balanced over them.
   */
  addresses: string[];
  logger: Logger;
  /** Re-read ListTools this often, so new or changed tools appear; default 30 s. */
  refreshMs?: number;
  /** Circuit breaker of each endpoint. */
  endpointPolicy?: EndpointPolicyOptions;
}

/** The tools of every configured tool service, from their ListTools. */
export interface ToolRegistry {
  get(name: string): RegisteredTool | undefined;
  list(): RegisteredTool[];
  /** Reads ListTools of every endpoint; one that does not answer keeps its last known tools. */
  refresh(): Promise<void>;
  /** Refreshes until every endpoint answered once (or the timeout), then periodically. */
  start(initialTimeoutMs?: number): Promise<void>;
  stop(): void;
}

/** Creates the {@link ToolRegistry} over static addresses. */
export function createToolRegistry(options: ToolRegistryOptions): ToolRegistry {
  const { logger } = options;
  const policy = options.endpointPolicy ?? { failureThreshold: 5, halfOpenAfterMs: 5_000 };
  const endpoints = options.addresses.map((address) => createToolEndpoint(address, policy, logger));
  const published = new Map<ToolEndpoint, ToolDefinition[]>();
  let byName = new Map<string, RegisteredTool>();
  let timer: NodeJS.Timeout | undefined;

  // Rebuilt after each refresh: a tool is served by every endpoint that publishes it.
  const rebuild = () => {
    const next = new Map<string, RegisteredTool & { endpoints: ToolEndpoint[] }>();
    for (const endpoint of endpoints) {
      for (const definition of published.get(endpoint) ?? []) {
        const known = next.get(definition.name);
        if (known) {
          if (known.definition.inputSchemaJson !== definition.inputSchemaJson) {
            logger.warn(
              { tool: definition.name, address: endpoint.address },
              'replica publishes another schema; using the first',
            );
          }
          known.endpoints.push(endpoint);
          continue;
        }
        try {
          const parameters = JSON.parse(definition.inputSchemaJson) as Record<string, unknown>;
          next.set(definition.name, {
            definition,
            parameters,
            validate: compileArgumentValidator(parameters),
            endpoints: [endpoint],
          });
        } catch {
          logger.warn(
            { tool: definition.name, address: endpoint.address },
            'tool with an invalid JSON Schema ignored',
          );
        }
      }
    }
    byName = next;
  };

  const refresh = async () => {
    const results = await Promise.allSettled(
      endpoints.map(async (endpoint) => {
        const res = await endpoint.client.listTools({}, { timeoutMs: 5_000 });
        published.set(endpoint, res.tools);
      }),
    );
    results.forEach((r, i) => {
      if (r.status === 'rejected') {
        logger.warn(
          { address: endpoints[i]?.address, err: r.reason },
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
      while (published.size < endpoints.length && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        await refresh();
      }
      logger.info({ tools: [...byName.keys()], endpoints: published.size }, 'tool registry loaded');
      timer = setInterval(() => void refresh(), options.refreshMs ?? 30_000);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
