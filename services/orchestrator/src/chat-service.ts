import { create } from '@bufbuild/protobuf';
import { ChatService, ChatStreamResponseSchema } from '@toolmesh/proto';
import {
  Code,
  type HandlerContext,
  publicError,
  requireCredential,
  type ServiceRegistration,
  serviceRegistration,
} from '@toolmesh/rpc';
import type { ChatEngine } from './chat-engine.ts';
import { streamTurn } from './turn/index.ts';

/** Largest user message accepted, in characters. */
export const maxMessageChars = 16_000;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkConversationId(id: string) {
  if (id && !uuid.test(id))
    throw publicError(Code.InvalidArgument, 'conversation_id must be empty or a UUID');
}

function checkIdempotencyKey(key: string) {
  if (key.length > 128 || /[^\x21-\x7e]/.test(key)) {
    throw publicError(Code.InvalidArgument, 'idempotency_key must be at most 128 printable ASCII characters');
  }
}

// Assistant names are [a-z0-9-] (the assistants file's rule); anything else names none.
function checkAssistant(name: string) {
  if (name.length > 64 || /[^a-z0-9-]/.test(name))
    throw publicError(Code.InvalidArgument, 'assistant must be empty or a name of [a-z0-9-]');
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

/**
 * ChatService inside the mesh: the gateway forwards its callers' calls here with a credential
 * naming the verified user; this validates the request and runs the engine as that user.
 */
export function createChatService(engine: ChatEngine): ServiceRegistration {
  const turn = (ctx: HandlerContext) => {
    const { principal, requestId } = requireCredential(ctx);
    return { principal, requestId, signal: ctx.signal };
  };
  return serviceRegistration(ChatService, {
    async chat(req, ctx) {
      checkConversationId(req.conversationId);
      checkMessage(req.message);
      checkIdempotencyKey(req.idempotencyKey);
      checkAssistant(req.assistant);
      return engine.chat(turn(ctx), req.conversationId, req.message, req.idempotencyKey, req.assistant);
    },
    async *chatStream(req, ctx) {
      checkConversationId(req.conversationId);
      checkMessage(req.message);
      checkIdempotencyKey(req.idempotencyKey);
      checkAssistant(req.assistant);
      const base = turn(ctx);
      const events = streamTurn((emit) =>
        engine.chat({ ...base, emit }, req.conversationId, req.message, req.idempotencyKey, req.assistant),
      );
      for await (const event of events) yield create(ChatStreamResponseSchema, { event });
    },
    async confirm(req, ctx) {
      if (!uuid.test(req.conversationId))
        throw publicError(Code.InvalidArgument, 'conversation_id must be a UUID');
      if (!uuid.test(req.actionId)) throw publicError(Code.InvalidArgument, 'action_id must be a UUID');
      const r = await engine.confirm(turn(ctx), req.conversationId, req.actionId, req.approve);
      // ConfirmResponse carries the fields of ChatResponse at its top level.
      return {
        conversationId: r.conversationId,
        reply: r.reply,
        toolExecutions: r.toolExecutions,
        pendingActions: r.pendingActions,
        usage: r.usage,
        stopReason: r.stopReason,
      };
    },
  });
}
