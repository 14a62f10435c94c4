import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createAuditService } from './audit-service.ts';
import type { ChatEngine } from './chat-engine.ts';
import type { ExecutionLedger } from './execution-ledger.ts';
import { mapError } from './map-error.ts';
import { createOrchestratorService } from './orchestrator-service.ts';
import { createTaskForwarder } from './task-forwarder.ts';
import type { ToolRegistry } from './tool-registry.ts';

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
