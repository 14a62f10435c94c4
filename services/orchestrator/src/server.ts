import type { Pool } from '@toolmesh/db';
import { createServer, type Server } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import { createAuditService } from './audit-service.ts';
import type { ChatEngine } from './chat-engine.ts';
import type { ExecutionLedger } from './execution-ledger.ts';
import { mapError } from './map-error.ts';
import { createOrchestratorService } from './orchestrator-service.ts';
import { createTaskForwarder } from './task-forwarder.ts';

/** Builds the orchestrator's gRPC server; it listens only when main says so. */
export function createOrchestratorServer(options: {
  engine: ChatEngine;
  pool: Pool;
  ledger: ExecutionLedger;
  logger: Logger;
}): Server {
  return createServer({
    logger: options.logger,
    mapError,
    services: [
      createOrchestratorService(options.engine),
      createAuditService(options.pool),
      createTaskForwarder(options.ledger),
    ],
  });
}
