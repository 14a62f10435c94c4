import { create } from '@bufbuild/protobuf';
import { OrchestratorService, type Principal, RunChatStreamResponseSchema } from '@toolmesh/proto';
import {
  Code,
  type HandlerContext,
  publicError,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';
import type { ChatEngine } from './chat-engine.ts';
import type { ToolRegistry } from './tools/index.ts';
import { describeRegistry } from './tools/index.ts';
import { streamTurn } from './turn/index.ts';

/** Largest user message accepted, in characters. */
export const maxMessageChars = 16_000;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function requirePrincipal(principal: Principal | undefined): Principal {
  if (!principal?.userId) throw publicError(Code.Unauthenticated, 'no verified principal');
  return principal;
}

function checkConversationId(id: string) {
  if (id && !uuid.test(id))
    throw publicError(Code.InvalidArgument, 'conversation_id must be empty or a UUID');
}

function checkIdempotencyKey(key: string) {
  if (key.length > 128 || /[^\x21-\x7e]/.test(key)) {
    throw publicError(Code.InvalidArgument, 'idempotency_key must be at most 128 printable ASCII characters');
  }
}

function checkMessage(message: string) {
  if (!message.trim()) throw publicError(Code.InvalidArgument, 'message must not be empty');
  // Postgres text cannot hold NUL; such input is malformed, not an internal failure.
  if (message.includes('\u0000'))
    throw publicError(Code.InvalidArgument, 'message must not contain NUL characters');
  if (message.length > maxMessageChars) {
    throw publicError(Code.InvalidArgument, `message exceeds ${maxMessageChars} characters`);
  }
}

/** The internal OrchestratorService: validates what the gateway forwards and runs the engine. */
export function createOrchestratorService(engine: ChatEngine, registry: ToolRegistry): ServiceRegistration {
  const turn = (principal: Principal | undefined, requestId: string, ctx: HandlerContext) => ({
    principal: requirePrincipal(principal),
    requestId,
    signal: ctx.signal,
  });
  return serviceRegistration(OrchestratorService, {
    async runChat(req, ctx) {
      const chat = req.chat;
      checkConversationId(chat?.conversationId ?? '');
      checkMessage(chat?.message ?? '');
      checkIdempotencyKey(chat?.idempotencyKey ?? '');
      const response = await engine.chat(
        turn(req.principal, req.requestId, ctx),
        chat?.conversationId ?? '',
        chat?.message ?? '',
        chat?.idempotencyKey,
      );
      return { response };
    },
    async *runChatStream(req, ctx) {
      const chat = req.chat;
      checkConversationId(chat?.conversationId ?? '');
      checkMessage(chat?.message ?? '');
      const base = turn(req.principal, req.requestId, ctx);
      checkIdempotencyKey(chat?.idempotencyKey ?? '');
      const events = streamTurn((emit) =>
        engine.chat({ ...base, emit }, chat?.conversationId ?? '', chat?.message ?? '', chat?.idempotencyKey),
      );
      for await (const event of events) yield create(RunChatStreamResponseSchema, { event: { event } });
    },
    async runListRegisteredTools(req) {
      return { response: describeRegistry(registry, requirePrincipal(req.principal)) };
    },
    async runConfirm(req, ctx) {
      const confirm = req.confirm;
      if (!confirm?.conversationId || !uuid.test(confirm.conversationId)) {
        throw publicError(Code.InvalidArgument, 'conversation_id must be a UUID');
      }
      if (!uuid.test(confirm.actionId)) throw publicError(Code.InvalidArgument, 'action_id must be a UUID');
      const response = await engine.confirm(
        turn(req.principal, req.requestId, ctx),
        confirm.conversationId,
        confirm.actionId,
        confirm.approve,
      );
      return { response };
    },
  });
}
