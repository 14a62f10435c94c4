import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { type ChatResponse, ChatResponseSchema, PrincipalSchema } from '@toolmesh/proto';
import { Code, publicError } from '@toolmesh/rpc';
import type { PendingActionRecord } from '../store/index.ts';
import type { ConversationLeases, TurnContext } from '../turn/index.ts';
import { completeDecision, type DecisionDeps } from './complete-decision.ts';

/** What a Confirm needs. */
export interface ConfirmDeps extends DecisionDeps {
  leases: ConversationLeases;
  /** Closes the conversation's waiting actions (an expired one among them). */
  closeUndecided: (conversationId: string) => Promise<void>;
}

const storedResponse = (response: unknown) => fromJson(ChatResponseSchema, response as JsonValue);

/**
 * The user's decision on a held write. Only the user who asked decides; the
 * first decision wins and every repeat answers its stored response, so nothing
 * runs twice; an expired action is FAILED_PRECONDITION and never runs.
 */
export async function confirmAction(
  deps: ConfirmDeps,
  ctx: TurnContext,
  decision: { conversationId: string; actionId: string; approve: boolean },
): Promise<ChatResponse> {
  const { actions } = deps;
  const { conversationId, actionId, approve } = decision;
  const action = await actions.get(actionId);
  if (!action || action.conversationId !== conversationId)
    throw publicError(Code.NotFound, 'action not found');
  if (action.userId !== ctx.principal.userId) {
    throw publicError(Code.PermissionDenied, 'only the user who asked may decide on this action');
  }
  if (action.response) return storedResponse(action.response);
  return deps.leases.withConversation(conversationId, async () => {
    if (await actions.claim(actionId, approve ? 'executing' : 'declined', ctx.principal.userId)) {
      return completeDecision(deps, ctx, action, approve);
    }
    // Someone else decided first, or the action is out of reach.
    const current = await actions.get(actionId);
    if (current?.response) return storedResponse(current.response);
    if (current?.status === 'pending' || current?.status === 'expired') {
      await deps.closeUndecided(conversationId);
      throw publicError(Code.FailedPrecondition, 'the action expired; ask again to get a new one');
    }
    if (current?.status === 'executing') {
      // Running now, or being recovered after a crash: the result will be stored.
      throw publicError(Code.Aborted, 'the action is being executed; retry shortly for its result');
    }
    throw publicError(Code.FailedPrecondition, `the action is ${current?.status ?? 'gone'}`);
  });
}

/**
 * Finishes an approved write whose orchestrator died mid-execution: the call is
 * sent again with the same idempotency key, so the tool service answers its
 * stored result instead of writing twice.
 */
export async function reconcileApprovedAction(
  deps: ConfirmDeps,
  action: PendingActionRecord,
  signal: AbortSignal,
): Promise<void> {
  const principal = fromJson(PrincipalSchema, action.principal as JsonValue);
  const ctx: TurnContext = { principal, requestId: `reconcile:${action.actionId}`, signal };
  await deps.leases.withConversation(action.conversationId, () => completeDecision(deps, ctx, action, true));
}
