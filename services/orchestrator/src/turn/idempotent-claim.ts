import { fromJson, type JsonValue, toJson } from '@bufbuild/protobuf';
import { type ChatResponse, ChatResponseSchema } from '@toolmesh/proto';
import { Code, publicError } from '@toolmesh/rpc';
import type { Owner } from '../core-types.ts';
import type { ChatRequestStore } from '../store/index.ts';

/** One ChatRequest as its idempotency key binds it. */
export interface IdempotentRequest {
  /** Whose key it is: the caller's principal (tenant and user). */
  owner: Owner;
  /** Empty: no idempotency, the turn just runs. */
  key: string;
  /** What the key stands for; a reuse with anything else is refused. */
  request: unknown;
}

/**
 * Runs `turn` once per (tenant, user, key): a retry gets the first response without a
 * second turn, a retry while the first still runs is ABORTED, a key reused for
 * another request is INVALID_ARGUMENT. A failed turn frees the key for the retry.
 */
export async function withIdempotencyKey(
  store: ChatRequestStore,
  { owner, key, request }: IdempotentRequest,
  turn: () => Promise<ChatResponse>,
): Promise<ChatResponse> {
  if (!key) return turn();
  // Fail closed: without a whole owner the key could answer someone else's response.
  if (!owner?.tenantId || !owner.userId) throw publicError(Code.Unauthenticated, 'no verified principal');
  const claim = await store.claim(owner, key, request);
  if (claim.state === 'done') return fromJson(ChatResponseSchema, claim.response as JsonValue);
  if (claim.state === 'in_progress') {
    throw publicError(Code.Aborted, 'a request with this idempotency key is still running; retry later');
  }
  if (claim.state === 'mismatch') {
    throw publicError(Code.InvalidArgument, 'idempotency key reused with a different request');
  }
  try {
    const response = await turn();
    await store.complete(owner, key, toJson(ChatResponseSchema, response));
    return response;
  } catch (error) {
    await store.release(owner, key).catch(() => {});
    throw error;
  }
}
