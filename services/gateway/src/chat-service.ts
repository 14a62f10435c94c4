import { randomUUID } from 'node:crypto';
import type { Client } from '@connectrpc/connect';
import { ChatService, type OrchestratorService, type Principal } from '@toolmesh/proto';
import {
  Code,
  ConnectError,
  type HandlerContext,
  isSanitizedError,
  publicError,
  requestIdKey,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';
import { principalKey } from './auth-interceptor.ts';

/** Options of {@link createChatService}. */
export interface ChatServiceOptions {
  orchestrator: Client<typeof OrchestratorService>;
  /** Deadline when the caller sets none. */
  defaultDeadlineMs: number;
}

// Statuses the orchestrator raises on purpose, with messages written for the caller.
const forwardedCodes = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.PermissionDenied,
  Code.FailedPrecondition,
  Code.Aborted,
  Code.Unauthenticated,
  Code.ResourceExhausted,
]);

function forwardError(error: unknown, ctx: HandlerContext): never {
  // The orchestrator's error boundary already wrote these for callers (e.g. "the model is unavailable").
  if (error instanceof ConnectError && (forwardedCodes.has(error.code) || isSanitizedError(error)))
    throw publicError(error.code, error.rawMessage);
  if (error instanceof ConnectError && error.code === Code.Unavailable) {
    throw publicError(Code.Unavailable, 'the orchestrator is unavailable, retry later');
  }
  // The orchestrator went away mid-call (its stream was reset) while our caller is
  // still waiting: that is an unavailable dependency, and retryable.
  if (error instanceof ConnectError && error.code === Code.Canceled && !ctx.signal.aborted) {
    throw publicError(Code.Unavailable, 'the orchestrator is unavailable, retry later');
  }
  throw error;
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
        .catch((e: unknown) => forwardError(e, ctx));
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
        forwardError(error, ctx);
      }
    },
    async confirm(req, ctx) {
      const { principal, requestId, callOptions } = forward(ctx);
      const res = await orchestrator
        .runConfirm({ principal, confirm: req, requestId }, callOptions)
        .catch((e: unknown) => forwardError(e, ctx));
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
