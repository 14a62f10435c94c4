import { randomUUID } from 'node:crypto';
import type { Client } from '@connectrpc/connect';
import { ChatService, type OrchestratorService, type Principal } from '@toolmesh/proto';
import {
  type HandlerContext,
  requestIdKey,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';
import { relayOrchestratorError } from './relay-orchestrator-error.ts';

/** Options of {@link createChatService}. */
export interface ChatServiceOptions {
  orchestrator: Client<typeof OrchestratorService>;
  /** Deadline when the caller sets none. */
  defaultDeadlineMs: number;
}

/** The public ChatService: forwards each call with the verified principal and the caller's deadline. */
export function createChatService(options: ChatServiceOptions): ServiceRegistration {
  const { orchestrator } = options;
  const forward = (ctx: HandlerContext) => {
    const principal = ctx.values.get(principalKey) as Principal;
    // The server's tracing interceptor took the caller's x-request-id (or made one) and
    // answers it in the response header; the orchestrator stores it with every execution.
    const requestId = ctx.values.get(requestIdKey) || randomUUID();
    return {
      principal,
      requestId,
      callOptions: { timeoutMs: ctx.timeoutMs() ?? options.defaultDeadlineMs, signal: ctx.signal },
    };
  };
  return serviceRegistration(ChatService, {
    async chat(req, ctx) {
      const { principal, requestId, callOptions } = forward(ctx);
      const res = await orchestrator
        .runChat({ principal, chat: req, requestId }, callOptions)
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
      return res.response ?? {};
    },
    async *chatStream(req, ctx) {
      const { principal, requestId, callOptions } = forward(ctx);
      try {
        for await (const res of orchestrator.runChatStream(
          {
            principal,
            chat: {
              conversationId: req.conversationId,
              message: req.message,
              idempotencyKey: req.idempotencyKey,
            },
            requestId,
          },
          callOptions,
        )) {
          if (res.event) yield res.event;
        }
      } catch (error) {
        relayOrchestratorError(error, ctx);
      }
    },
    async confirm(req, ctx) {
      const { principal, requestId, callOptions } = forward(ctx);
      const res = await orchestrator
        .runConfirm({ principal, confirm: req, requestId }, callOptions)
        .catch((e: unknown) => relayOrchestratorError(e, ctx));
      // ConfirmResponse carries the fields of ChatResponse at its top level.
      const r = res.response;
      return {
        conversationId: r?.conversationId,
        reply: r?.reply,
        toolExecutions: r?.toolExecutions,
        pendingActions: r?.pendingActions,
        usage: r?.usage,
        stopReason: r?.stopReason,
      };
    },
  });
}
