import {
  AssistantService,
  AuditService,
  ChatService,
  RegistryService,
  TaskService,
  UsageService,
} from '@toolmesh/proto';
import { createGrpcClient } from '@toolmesh/rpc';
import type { GatewayServerOptions } from '../../src/index.ts';

/** The orchestrator services a gateway under test forwards to, all at one stand-in's address. */
export function orchestratorClientsAt(address: string): GatewayServerOptions['orchestrator'] {
  return {
    chat: createGrpcClient(ChatService, { address }),
    audit: createGrpcClient(AuditService, { address }),
    tasks: createGrpcClient(TaskService, { address }),
    registry: createGrpcClient(RegistryService, { address }),
    assistants: createGrpcClient(AssistantService, { address }),
    usage: createGrpcClient(UsageService, { address }),
  };
}
