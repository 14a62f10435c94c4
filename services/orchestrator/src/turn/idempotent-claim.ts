import { type DescMessage, fromJson, type JsonValue, type MessageShape, toJson } from '@bufbuild/protobuf';
import { Code, publicError } from '@toolmesh/rpc';
import type { Owner } from '../core-types.ts';
import type { ChatRequestStore } from '../store/index.ts';

/** One request (a ChatRequest, a CallToolRequest) as its idempotency key binds it. */
export interface IdempotentRequest {
  /** Whose key it is: the caller's principal (tenant and user). */
  owner: Owner;
  /** Empty: no idempotency, the turn just runs. */
  key: string;
  /** What the key stands for; a reuse with anything else is refused. */
  request: unknown;
}

/** What {@link withIdempotencyKey} keeps; by default every response. */
export interface IdempotencyOptions<T> {
  /** False: the response is answered but the key is freed, so a retry runs again. */
  keep?: (response: T) => boolean;
}

/**
 * Runs `turn` once per (tenant, user, key): a retry gets the first response (stored as
 * `schema`'s JSON) without a second turn, a retry while the first still runs is ABORTED,
 * a key reused for another request is INVALID_ARGUMENT. A failed turn frees the key for
 * the retry.
 */
export async function withIdempotencyKey<Desc extends DescMessage>(
  store: ChatRequestStore,
  { owner, key, request }: IdempotentRequest,
  schema: Desc,
  turn: () => Promise<MessageShape<Desc>>,
  options: IdempotencyOptions<MessageShape<Desc>> = {},
): Promise<MessageShape<Desc>> {
  if (!key) return turn();
  // Fail closed: without a whole owner the key could answer someone else's response.
  if (!owner?.tenantId || !owner.userId) throw publicError(Code.Unauthenticated, 'no verified principal');
  const claim = await store.claim(owner, key, request);
  if (claim.state === 'done') return fromJson(schema, claim.response as JsonValue);
  if (claim.state === 'in_progress') {
    throw publicError(Code.Aborted, 'a request with this idempotency key is still running; retry later');
  }
  if (claim.state === 'mismatch') {
    throw publicError(Code.InvalidArgument, 'idempotency key reused with a different request');
  }
  try {
    const response = await turn();
    if (options.keep && !options.keep(response)) await store.release(owner, key);
    else await store.complete(owner, key, toJson(schema, response));
    return response;
  } catch (error) {
    await store.release(owner, key).catch(() => {});
    throw error;
  }
}
