import { type Clock, systemClock } from '@toolmesh/clock';
import type { Pool } from '@toolmesh/db';
import { ChatService } from '@toolmesh/proto';
import {
  type Admission,
  createAdmissionInterceptor,
  createMeshAuthInterceptor,
  createServer,
  type KeyResolver,
  meshAudience,
  meshIssuer,
  requireCredential,
  type Server,
  type TlsSettings,
} from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createAssistantService } from './assistant-service.ts';
import type { AssistantCatalog } from './assistants/assistant-catalog.ts';
import { createAuditService } from './audit-service.ts';
import type { ChatEngine } from './chat-engine.ts';
import { createChatService } from './chat-service.ts';
import { mapError } from './map-error.ts';
import { createRegistryService } from './registry-service.ts';
import type { ExecutionLedger } from './store/index.ts';
import { createToolCallService, type ToolCallServiceOptions } from './tool-call-service.ts';
import { createTaskForwarder, type ToolCredentials, type ToolRegistry } from './tools/index.ts';
import { createUsageService, type UsageServiceOptions } from './usage-service.ts';

/** Options of {@link createOrchestratorServer}. */
export interface OrchestratorServerOptions {
  engine: ChatEngine;
  registry: ToolRegistry;
  pool: Pool;
  ledger: ExecutionLedger;
  /** The mesh's public keys: only credentials the gateway signed for the orchestrator get in. */
  meshKeys: KeyResolver;
  /** Signs the credentials of task reads forwarded to tool services. */
  credentials: ToolCredentials;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
  /** Mutual TLS of the listener and of the forwarded task reads; absent: plaintext. */
  tls?: TlsSettings;
  clock?: Clock;
  /** The assistants file as last loaded: AssistantService lists it (absent: not served). */
  assistants?: { current(): AssistantCatalog };
  /** The per-turn usage records: UsageService reads them (absent: not served). */
  usage?: UsageServiceOptions['usage'];
  /** What ToolCallService (one call named by the caller, e.g. over MCP) runs with; absent: not served. */
  toolCalls?: ToolCallServiceOptions;
  /**
   * Bounds the chat turns this process runs at once (beyond it: RESOURCE_EXHAUSTED, reason
   * OVERLOADED, a retry hint, before the turn starts); absent: no bound.
   */
  turnAdmission?: Admission;
}

/**
 * Builds the orchestrator's gRPC server: ChatService, RegistryService, AuditService,
 * TaskService (and ToolCallService for MCP) for the gateway's verified callers, behind the mesh interceptor. It listens
 * only when main says so.
 */
export function createOrchestratorServer(options: OrchestratorServerOptions): Server {
  return createServer({
    logger: options.logger,
    metrics: options.metrics,
    mapError,
    clock: options.clock,
    tls: options.tls,
    interceptors: [
      createMeshAuthInterceptor({
        keys: options.meshKeys,
        issuers: [meshIssuer.gateway],
        acceptsAudience: (audience) => audience === meshAudience.orchestrator,
        clock: options.clock,
      }),
      // After the credential check: a caller the mesh did not sign for learns nothing of load.
      ...(options.turnAdmission
        ? [
            createAdmissionInterceptor({
              admission: options.turnAdmission,
              admits: (service) => service === ChatService.typeName,
              service: 'orchestrator',
            }),
          ]
        : []),
    ],
    services: [
      createChatService(options.engine),
      createRegistryService(options.registry),
      createAuditService(options.pool, { principalOf: (ctx) => requireCredential(ctx).principal }),
      createTaskForwarder({
        ledger: options.ledger,
        credentials: options.credentials,
        clientOptions: { tls: options.tls },
      }),
      ...(options.assistants ? [createAssistantService({ assistants: options.assistants })] : []),
      ...(options.usage
        ? [createUsageService({ usage: options.usage, clock: options.clock ?? systemClock })]
        : []),
      ...(options.toolCalls ? [createToolCallService(options.toolCalls)] : []),
    ],
  });
}
