import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import { createAuditService } from './audit-service.ts';
import type { ChatEngine } from './chat-engine.ts';
import { mapError } from './map-error.ts';
import { createOrchestratorService } from './orchestrator-service.ts';

/** Builds the orchestrator's gRPC server; it listens only when main says so. */
export function createOrchestratorServer(options: {
  engine: ChatEngine;
  pool: Pool;
  logger: Logger;
}): Server {
  return createServer({
    logger: options.logger,
    mapError,
    services: [createOrchestratorService(options.engine), createAuditService(options.pool)],
  });
}
