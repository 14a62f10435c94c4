import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { DiscoveredEndpoint, Discovery } from '@toolmesh/discovery';
import { SideEffect, type ToolDefinition } from '@toolmesh/proto';
import { type ClientTlsSettings, createTlsFiles } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import { type ArgumentValidator, compileArgumentValidator } from './argument-validator.ts';
import {
  createToolEndpoint,
  type EndpointObservers,
  type EndpointPolicyOptions,
  type ToolEndpoint,
} from './tool-endpoint.ts';

/** A tool known to the orchestrator, with every replica that serves it. */
export interface RegisteredTool {
  readonly definition: ToolDefinition;
  /** JSON Schema of the arguments, parsed once. */
  readonly parameters: Record<string, unknown>;
  /** Checks arguments against {@link parameters} before anything is sent. */
  readonly validate: ArgumentValidator;
  /** Replicas serving the tool, in discovery order. */
  readonly endpoints: readonly ToolEndpoint[];
}

/** A tool service endpoint and what it published. */
export interface KnownEndpoint {
  readonly endpoint: ToolEndpoint;
  /** Its tools; undefined until it answered ListTools once. */
  readonly tools: readonly ToolDefinition[] | undefined;
}

/** Options of {@link createToolRegistry}. */
export interface ToolRegistryOptions {
  /**
   * Where the tool service replicas are. Endpoints that publish the same tool
   * are replicas of it; calls are balanced over them.
   */
  discovery: Discovery;
  logger: Logger;
  /** Re-read ListTools of every endpoint this often, so changed tools appear; default 30 s. */
  refreshMs?: number;
  /** Circuit breaker of each endpoint. */
  endpointPolicy?: EndpointPolicyOptions;
  /** Metrics of every endpoint's breaker and client. */
  observe?: EndpointObservers;
  /** Hears an endpoint leaving discovery, so its series can go. */
  onEndpointRemoved?: (address: string) => void;
  /** Drives refreshes, the first load's wait and the endpoints' breaker timing; default the system clock. */
  clock?: Clock;
  /** Metadata of ListTools calls: tool services answer only the orchestrator's credential. */
  listToolsHeaders: () => Promise<Record<string, string>>;
  /** Mutual TLS toward the tool services; absent: plaintext. */
  tls?: ClientTlsSettings;
}

/** The tools of every discovered tool service, from their ListTools. */
export interface ToolRegistry {
  /** "static", "dns" or "etcd". */
  readonly discovery: string;
  get(name: string): RegisteredTool | undefined;
  list(): RegisteredTool[];
  /** Every endpoint discovery knows, with what it published. */
  endpoints(): KnownEndpoint[];
  /** Reads ListTools of every endpoint; one that does not answer keeps its last known tools. */
  refresh(): Promise<void>;
  /**
   * Starts discovery, waits until every endpoint it found answered once (or the
   * timeout), then follows discovery's changes and refreshes periodically.
   */
  start(initialTimeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface EndpointEntry {
  endpoint: ToolEndpoint;
  version: string;
  tools?: ToolDefinition[];
}

const sideEffectName = (value: SideEffect) =>
  value === SideEffect.WRITE ? 'write' : value === SideEffect.READ ? 'read' : 'unspecified';

// What must be the same on every replica of a tool: it decides whether a call needs
// an approval (side effect) and who may make it (permission).
const policyOf = (definition: ToolDefinition) => ({
  sideEffect: definition.metadata?.sideEffect ?? SideEffect.UNSPECIFIED,
  permission: definition.metadata?.permission ?? '',
});

/**
 * The registry's tools from what every endpoint published: a tool is served by every
 * endpoint that publishes it. Replicas that disagree on side effect or permission make
 * the tool refused (dropped, with an error logged) until they agree again. Keeping the
 * first-seen definition instead would let discovery order decide whether a write runs
 * without approval or with a weaker permission; dropping the tool is the safe choice:
 * a write is never treated as a read. A differing schema keeps the first one (the
 * arguments are validated against it; the tool service validates its own).
 */
export function mergeReplicas(
  published: readonly { endpoint: ToolEndpoint; tools?: readonly ToolDefinition[] }[],
  logger: Logger,
): Map<string, RegisteredTool> {
  const next = new Map<string, RegisteredTool & { endpoints: ToolEndpoint[] }>();
  const refused = new Set<string>();
  for (const { endpoint, tools } of published) {
    for (const definition of tools ?? []) {
      if (refused.has(definition.name)) continue;
      const known = next.get(definition.name);
      if (known) {
        const first = policyOf(known.definition);
        const other = policyOf(definition);
        if (first.sideEffect !== other.sideEffect || first.permission !== other.permission) {
          logger.error(
            {
              tool: definition.name,
              addresses: [...known.endpoints.map((e) => e.address), endpoint.address],
              side_effects: [sideEffectName(first.sideEffect), sideEffectName(other.sideEffect)],
              permissions: [first.permission, other.permission],
            },
            'replicas of a tool disagree on side effect or permission; tool refused until they agree',
          );
          next.delete(definition.name);
          refused.add(definition.name);
          continue;
        }
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
  return next;
}

/** Creates the {@link ToolRegistry} over a {@link Discovery}. */
export function createToolRegistry(options: ToolRegistryOptions): ToolRegistry {
  const { logger, discovery } = options;
  const policy = options.endpointPolicy ?? { failureThreshold: 5, halfOpenAfterMs: 5_000 };
  const entries = new Map<string, EndpointEntry>();
  let byName = new Map<string, RegisteredTool>();
  const clock = options.clock ?? systemClock;
  // One set of TLS files for every endpoint's client: read once and checked once, not per replica.
  const endpointTls = options.tls ? { tls: options.tls, tlsFiles: createTlsFiles(options.tls) } : {};
  let timer: ClockTimer | undefined;

  // Rebuilt after each change: a tool is served by every endpoint that publishes it.
  const rebuild = () => {
    byName = mergeReplicas([...entries.values()], logger);
  };

  const readTools = async (entry: EndpointEntry) => {
    try {
      const headers = await options.listToolsHeaders();
      const res = await entry.endpoint.client.listTools({}, { timeoutMs: 5_000, headers });
      entry.tools = res.tools;
    } catch (error) {
      logger.warn(
        { address: entry.endpoint.address, err: error },
        'ListTools failed; keeping last known tools',
      );
    }
  };

  const refresh = async () => {
    await Promise.all([...entries.values()].map(readTools));
    rebuild();
  };

  // Follows discovery: new endpoints are read at once, vanished ones leave the
  // registry (calls in flight on them finish), re-registered ones are read again.
  const sync = async (discovered: readonly DiscoveredEndpoint[]) => {
    const wanted = new Map(discovered.map((d) => [d.address, d.version]));
    const toRead: EndpointEntry[] = [];
    for (const address of entries.keys()) {
      if (!wanted.has(address)) {
        entries.delete(address);
        options.onEndpointRemoved?.(address);
        logger.info({ address }, 'tool endpoint left');
      }
    }
    for (const [address, version] of wanted) {
      const entry = entries.get(address);
      if (!entry) {
        const added = {
          endpoint: createToolEndpoint(address, policy, logger, options.observe, clock, endpointTls),
          version,
        };
        entries.set(address, added);
        toRead.push(added);
        logger.info({ address }, 'tool endpoint joined');
      } else if (entry.version !== version) {
        entry.version = version;
        toRead.push(entry);
      }
    }
    rebuild();
    await Promise.all(toRead.map(readTools));
    rebuild();
  };

  const view = (): KnownEndpoint[] =>
    [...entries.values()].map(({ endpoint, tools }) => ({ endpoint, tools }));

  return {
    discovery: discovery.kind,
    get: (name) => byName.get(name),
    list: () => [...byName.values()],
    endpoints: view,
    refresh,
    async start(initialTimeoutMs = 30_000) {
      discovery.onChange((discovered) => void sync(discovered));
      await discovery.start();
      await sync(discovery.endpoints());
      const deadline = clock.now() + initialTimeoutMs;
      const unread = () => [...entries.values()].filter((e) => !e.tools);
      while (unread().length && clock.now() < deadline) {
        await clock.sleep(250);
        await Promise.all(unread().map(readTools));
        rebuild();
      }
      logger.info(
        { discovery: discovery.kind, tools: [...byName.keys()], endpoints: entries.size },
        'tool registry loaded',
      );
      timer = clock.setInterval(() => void refresh(), options.refreshMs ?? 30_000).unref();
    },
    async stop() {
      timer?.cancel();
      await discovery.stop();
    },
  };
}
