import type { Clock } from '@toolmesh/clock';
import {
  createMeshAuthInterceptor,
  createServer,
  type ErrorMapper,
  type KeyResolver,
  meshAudience,
  meshIssuer,
  type Server,
  type ServiceRegistration,
  type TlsSettings,
} from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createTaskService, type TaskServiceOptions } from './create-task-service.ts';
import { createToolService, currentTools, type ToolServiceOptions } from './create-tool-service.ts';
import type { Tool } from './define-tool.ts';

/** Options of {@link createToolServer}. */
export interface ToolServerOptions extends ToolServiceOptions {
  /** The mesh's public keys (e.g. `jwksFrom(config.meshAuth.jwks)`): every call must bring a credential they verify. */
  meshKeys: KeyResolver;
  /** Serves TaskService over the async tools' task table too; defaults to `tasks` when given. */
  taskService?: TaskServiceOptions;
  /** More services on the same port (their calls need a credential for one of the tools too). */
  services?: ServiceRegistration[];
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
  mapError?: ErrorMapper;
  /** Mutual TLS: only clients with a certificate of the mesh's CA open a connection. */
  tls?: TlsSettings;
  logger: Logger;
  clock?: Clock;
}

/**
 * A tool service's gRPC server: ToolService (and TaskService for async tools), health and
 * reflection, behind the mesh interceptor. It admits only credentials the orchestrator signed
 * for one of these tools; the tool service then binds them to the call. It does not listen.
 */
export function createToolServer(options: ToolServerOptions): Server {
  // The tools' audiences, and the orchestrator's ListTools credential (good for nothing else here).
  const toolSet = currentTools(options.tools);
  let audiences: { list: readonly Tool[]; set: Set<string> } | undefined;
  const accepted = () => {
    const list = toolSet();
    if (audiences?.list !== list)
      audiences = {
        list,
        set: new Set([...list.map((t) => meshAudience.tool(t.name)), meshAudience.registry]),
      };
    return audiences.set;
  };
  const taskOptions = options.taskService ?? options.tasks;
  return createServer({
    logger: options.logger,
    metrics: options.metrics,
    mapError: options.mapError,
    clock: options.clock,
    tls: options.tls,
    interceptors: [
      createMeshAuthInterceptor({
        keys: options.meshKeys,
        issuers: [meshIssuer.orchestrator],
        acceptsAudience: (audience) => accepted().has(audience),
        clock: options.clock,
      }),
    ],
    services: [
      createToolService(options),
      ...(taskOptions ? [createTaskService({ clock: options.clock, ...taskOptions })] : []),
      ...(options.services ?? []),
    ],
  });
}
