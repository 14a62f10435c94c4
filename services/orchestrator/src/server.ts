import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createAuditService } from './audit-service.ts';
import type { ChatEngine } from './chat-engine.ts';
import { mapError } from './map-error.ts';
import { createOrchestratorService } from './orchestrator-service.ts';
import type { ExecutionLedger } from './store/index.ts';
import type { ToolRegistry } from './tools/index.ts';
import { createTaskForwarder } from './tools/index.ts';

/** Builds the orchestrator's gRPC server; it listens only when main says so. */
export function createOrchestratorServer(options: {
  engine: ChatEngine;
  registry: ToolRegistry;
  pool: Pool;
  ledger: ExecutionLedger;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
}): Server {
  return createServer({
    logger: options.logger,
    metrics: options.metrics,
    mapError,
    services: [
      createOrchestratorService(options.engine, options.registry),
      createAuditService(options.pool),
      createTaskForwarder(options.ledger),
    ],
  });
}
