import type { Client } from '@connectrpc/connect';
import type { RateLimiter, RateRule } from '@toolmesh/limits';
import {
  AssistantService,
  AuditService,
  ChatService,
  RegistryService,
  TaskService,
  type ToolCallService,
  UsageService,
} from '@toolmesh/proto';
import {
  type Admission,
  createAdmissionInterceptor,
  createServer,
  publicHttp2Limits,
  type Server,
} from '@toolmesh/rpc';
import type { Logger, Registry } from '@toolmesh/telemetry';
import { createAuthInterceptor } from './auth-interceptor.ts';
import type { Authenticate } from './authenticate.ts';
import type { ForwardAsCaller, SignAsCaller } from './forward-as-caller.ts';
import { forwardService } from './forward-service.ts';
import { createMcpHandler, mcpPath } from './mcp/index.ts';
import { createRateLimitInterceptor } from './rate-limit-interceptor.ts';
import { refuseWhenFull } from './refuse-when-full.ts';

/**
 * The longest a WatchTask may stay open; a caller's shorter deadline wins. Without a bound of
 * the server's own, the client's default deadline would cut every watch after a few seconds.
 */
export const maxWatchMs = 60 * 60_000;

/** Options of {@link createGatewayServer}. */
export interface GatewayServerOptions {
  /** The orchestrator's services, which the gateway forwards to as each verified caller. */
  orchestrator: {
    chat: Client<typeof ChatService>;
    audit: Client<typeof AuditService>;
    tasks: Client<typeof TaskService>;
    registry: Client<typeof RegistryService>;
    assistants: Client<typeof AssistantService>;
    usage: Client<typeof UsageService>;
  };
  /** Signs the credential of each forwarded call (see createForwardAsCaller). */
  forwardAsCaller: ForwardAsCaller;
  authenticate: Authenticate;
  defaultDeadlineMs: number;
  rateLimiter: RateLimiter;
  chatRate: RateRule;
  /** Per-user rate of each other public service (tasks, audit, registry, assistants, usage); default 20/s, burst 40. */
  publicRate?: RateRule;
  /** Server streams one user may hold open on this replica; default 8. */
  maxOpenStreamsPerUser?: number;
  /**
   * Bounds the chat turns this process forwards at once (a turn beyond it is refused before it
   * is forwarded: RESOURCE_EXHAUSTED, reason OVERLOADED, a retry hint); absent: no bound.
   */
  turnAdmission?: Admission;
  logger: Logger;
  /** The process's metrics registry (grpc_server_* series). */
  metrics?: Registry;
  /** Browser origins allowed to call (gRPC-Web, Connect); none: no CORS answers. */
  corsOrigins?: readonly string[] | '*' | undefined;
  /** Serve MCP at /mcp: tools/call goes to the orchestrator's ToolCallService as the caller; absent: no /mcp. */
  mcp?: { toolCalls: Client<typeof ToolCallService>; signAsCaller: SignAsCaller };
}

/** Builds the public gateway server; it listens only when main says so. */
export function createGatewayServer(options: GatewayServerOptions): Server {
  const { orchestrator, forwardAsCaller } = options;
  return createServer({
    logger: options.logger,
    metrics: options.metrics,
    // The public port: curl (Connect/JSON), browsers (gRPC-Web, Connect) and /mcp besides gRPC.
    protocols: 'all',
    ...(options.corsOrigins?.length ? { cors: { allowedOrigins: options.corsOrigins } } : {}),
    // Chat requests are small; a large body is refused before it is parsed.
    readMaxBytes: 256 * 1024,
    // The public port bounds what one client may hold: streams per connection, session memory, headers.
    limits: publicHttp2Limits,
    // Callers are outside the mesh: their trace context and request ids are not taken as ours.
    trustCallerContext: false,
    // Under overload most chats are refused: a gRPC chat that would be is answered before it is
    // parsed, so the refusals leave the CPU to the admitted turns (the interceptor below stays
    // the authority on slots, and answers every other protocol).
    ...(options.turnAdmission
      ? {
          earlyRefusal: refuseWhenFull({
            admission: options.turnAdmission,
            service: ChatService,
            authenticate: options.authenticate,
            tier: 'gateway',
          }),
        }
      : {}),
    ...(options.mcp
      ? {
          httpRoutes: [
            {
              path: mcpPath,
              handler: createMcpHandler({
                ...options.mcp,
                authenticate: options.authenticate,
                registry: orchestrator.registry,
                rateLimiter: options.rateLimiter,
                publicRate: options.publicRate,
                logger: options.logger,
                callTimeoutMs: options.defaultDeadlineMs,
                metrics: options.metrics,
              }),
            },
          ],
        }
      : {}),
    interceptors: [
      createAuthInterceptor(options.authenticate),
      // After authentication (an unknown caller learns nothing of load) and before the caller's
      // rate: a turn refused for load costs neither a token of the caller's budget (a client
      // retrying on the hint would otherwise spend it on refusals and then be rate limited) nor
      // the limiter's work (a Redis round trip when shared); before the forward, so a shed turn
      // costs the orchestrators nothing.
      ...(options.turnAdmission
        ? [
            createAdmissionInterceptor({
              admission: options.turnAdmission,
              admits: (service) => service === ChatService.typeName,
              service: 'gateway',
            }),
          ]
        : []),
      createRateLimitInterceptor(options.rateLimiter, options.chatRate, {
        publicRule: options.publicRate,
        maxOpenStreamsPerUser: options.maxOpenStreamsPerUser,
      }),
    ],
    // Each public service is the orchestrator's, forwarded as the verified caller; the
    // orchestrator checks permissions (audit:read, usage:read …) and tenancy.
    services: [
      forwardService(ChatService, orchestrator.chat, forwardAsCaller, {
        defaultTimeoutMs: options.defaultDeadlineMs,
      }),
      forwardService(AuditService, orchestrator.audit, forwardAsCaller),
      forwardService(TaskService, orchestrator.tasks, forwardAsCaller, { maxStreamMs: maxWatchMs }),
      forwardService(RegistryService, orchestrator.registry, forwardAsCaller),
      forwardService(AssistantService, orchestrator.assistants, forwardAsCaller),
      forwardService(UsageService, orchestrator.usage, forwardAsCaller),
    ],
  });
}
