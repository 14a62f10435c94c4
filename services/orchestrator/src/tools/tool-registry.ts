import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { DiscoveredEndpoint, Discovery } from '@toolmesh/discovery';
import type { ToolDefinition } from '@toolmesh/proto';
import { type ClientTlsSettings, createTlsFiles } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import {
  openPublishingPolicy,
  type PublishingPolicy,
  type PublishingPolicySource,
} from '../publishing/index.ts';
import { type ArgumentValidator, createValidatorCache } from './argument-validator.ts';
import { mergePublished, type PublishedTools, type RefusedToolInfo } from './merge-published.ts';
import { peerCertificateNames } from './peer-certificate-names.ts';
import { createRepeatQuietLogger } from './repeat-quiet-logger.ts';
import {
  createToolEndpoint,
  type EndpointObservers,
  type EndpointPolicyOptions,
  type ToolEndpoint,
} from './tool-endpoint.ts';

/**
 * One served version of a tool, with every replica that serves it. A tool with several
 * versions has one of these per version; the registry hands out the one a conversation
 * is pinned to.
 */
export interface RegisteredTool {
  readonly definition: ToolDefinition;
  /** JSON Schema of the arguments, parsed once. */
  readonly parameters: Record<string, unknown>;
  /** Checks arguments against {@link parameters} before anything is sent. */
  readonly validate: ArgumentValidator;
  /** Replicas serving the tool, in discovery order. */
  readonly endpoints: readonly ToolEndpoint[];
  /** The version served (empty: unversioned); absent on tools made by hand. */
  readonly version?: string;
  /** The services (identities in discovery) publishing it. */
  readonly services?: readonly string[];
  /** Every served version of the name with its share of conversations, oldest first. */
  readonly rollout?: readonly ServedVersion[];
  /**
   * The version conversation `conversationId` uses (sticky; see pickVersion); present only
   * while several versions of the name are served.
   */
  forConversation?(conversationId: string): RegisteredTool;
}

/** A served version of a name and its share (percent) of conversations. */
export interface ServedVersion {
  readonly version: string;
  readonly weight: number;
  readonly tool: RegisteredTool;
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
  /** Who may publish which names, forced versions and rollout weights; absent: open. */
  publishing?: PublishingPolicySource;
}

/** The tools of every discovered tool service, from their ListTools. */
export interface ToolRegistry {
  /** "static", "dns" or "etcd". */
  readonly discovery: string;
  /**
   * The tool of that name: the version `conversationId` is pinned to, or without one the
   * version with the largest share (which re-pins by conversation when executed).
   */
  get(name: string, conversationId?: string): RegisteredTool | undefined;
  /**
   * One tool per name, as {@link get} gives it. Without a conversation: the same frozen list
   * until the registry's tools change, so what is derived from it can be kept as long (see
   * toolIndex).
   */
  list(conversationId?: string): readonly RegisteredTool[];
  /**
   * Tools refused by the publishing policy or for disagreeing replicas or versions, with why
   * (optional, like {@link publishingPolicy}, only so registries made by hand in tests need not say).
   */
  refused?(): RefusedToolInfo[];
  /** The publishing policy's file; empty when there is none. */
  publishingPolicy?(): string;
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
  /** The service it is registered under in discovery; empty: unnamed. */
  service: string;
  tools?: ToolDefinition[];
  /** With mTLS: the names of its certificate, read with its tools. */
  certificateNames?: string[];
}

/**
 * The registry's tools by name from what every endpoint published (see mergePublished):
 * replicas that disagree make the tool refused; a write is never treated as a read.
 */
export function mergeReplicas(
  published: readonly PublishedTools[],
  logger: Logger,
  policy?: PublishingPolicy,
): Map<string, RegisteredTool> {
  return mergePublished(published, logger, policy).byName;
}

/** Creates the {@link ToolRegistry} over a {@link Discovery}. */
export function createToolRegistry(options: ToolRegistryOptions): ToolRegistry {
  const { logger, discovery } = options;
  const policy = options.endpointPolicy ?? { failureThreshold: 5, halfOpenAfterMs: 5_000 };
  const entries = new Map<string, EndpointEntry>();
  let byName = new Map<string, RegisteredTool>();
  let listed: readonly RegisteredTool[] = Object.freeze([]);
  let refused: RefusedToolInfo[] = [];
  const clock = options.clock ?? systemClock;
  // One set of TLS files for every endpoint's client: read once and checked once, not per replica.
  const endpointTls = options.tls ? { tls: options.tls, tlsFiles: createTlsFiles(options.tls) } : {};
  let timer: ClockTimer | undefined;

  // Rebuilt after each change: a tool is served by every endpoint that publishes it.
  // Refusals are logged when they start, not again at every refresh while they last.
  const mergeLog = createRepeatQuietLogger(logger);
  const validators = createValidatorCache();
  const rebuild = () => {
    mergeLog.round();
    ({ byName, refused } = mergePublished(
      [...entries.values()],
      mergeLog.logger,
      options.publishing?.current() ?? openPublishingPolicy,
      validators,
    ));
    validators.sweep();
    listed = Object.freeze([...byName.values()]);
  };
  // A changed policy (owners, forced versions, weights) applies at once: rollback needs no restart.
  options.publishing?.onChange(() => rebuild());

  const tlsFiles = endpointTls.tlsFiles;
  const serverNameOf = (address: string) =>
    typeof options.tls?.serverName === 'function' ? options.tls.serverName(address) : options.tls?.serverName;
  // With mTLS, the names its certificate vouches for, checked against its service in discovery.
  const readCertificateNames = async (entry: EndpointEntry) => {
    if (!tlsFiles || !entry.service) return;
    try {
      entry.certificateNames = await peerCertificateNames(entry.endpoint.address, tlsFiles.current(), {
        serverName: serverNameOf(entry.endpoint.address),
      });
    } catch (error) {
      logger.warn({ address: entry.endpoint.address, err: error }, 'reading the endpoint certificate failed');
      entry.certificateNames ??= [];
    }
  };

  const readTools = async (entry: EndpointEntry) => {
    await readCertificateNames(entry);
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
    const wanted = new Map(discovered.map((d) => [d.address, d]));
    const toRead: EndpointEntry[] = [];
    for (const address of entries.keys()) {
      if (!wanted.has(address)) {
        entries.delete(address);
        options.onEndpointRemoved?.(address);
        logger.info({ address }, 'tool endpoint left');
      }
    }
    for (const [address, { version, service = '' }] of wanted) {
      const entry = entries.get(address);
      if (!entry) {
        const added = {
          endpoint: createToolEndpoint(address, policy, logger, options.observe, clock, endpointTls),
          version,
          service,
        };
        entries.set(address, added);
        toRead.push(added);
        logger.info({ address }, 'tool endpoint joined');
      } else if (entry.version !== version || entry.service !== service) {
        entry.version = version;
        entry.service = service;
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
    get(name, conversationId) {
      const tool = byName.get(name);
      return conversationId && tool?.forConversation ? tool.forConversation(conversationId) : tool;
    },
    list: (conversationId) =>
      conversationId
        ? listed.map((tool) => (tool.forConversation ? tool.forConversation(conversationId) : tool))
        : listed,
    refused: () => refused,
    publishingPolicy: () => options.publishing?.current().source ?? '',
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
        {
          discovery: discovery.kind,
          tools: [...byName.keys()],
          refused: refused.map((r) => `${r.name}${r.version ? `@${r.version}` : ''}`),
          endpoints: entries.size,
        },
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
