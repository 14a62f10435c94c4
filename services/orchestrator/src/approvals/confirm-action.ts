import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { type ChatResponse, ChatResponseSchema, PrincipalSchema } from '@toolmesh/proto';
import { Code, publicError } from '@toolmesh/rpc';
import { isOwnedBy } from '../core-types.ts';
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

// Approving runs the tool as the confirmer: they must hold the tool's permission now,
// whatever the proposer held. A tool the registry no longer knows cannot be checked,
// so it is refused too, and the approval stays for when it is back. Declining runs
// nothing and needs no permission.
function checkMayRun(deps: ConfirmDeps, ctx: TurnContext, action: PendingActionRecord) {
  const tool = deps.registry.get(action.toolName);
  if (!tool) throw publicError(Code.Unavailable, 'the tool is not available right now; try again later');
  const permission = tool.definition.metadata?.permission ?? '';
  if (!ctx.principal.permissions.includes(permission)) {
    throw publicError(Code.PermissionDenied, `approving needs the permission to run ${action.toolName}`);
  }
}

/**
 * The user's decision on a held write. Only the user who asked (same tenant, same
 * user) decides: anyone else gets NOT_FOUND, exactly as for a missing action. An
 * approval also needs the confirmer's own permission for the tool, checked before
 * the approval is spent (a read-only credential of the same user is PERMISSION_DENIED
 * and the action stays pending). The first decision wins and every repeat answers
 * its stored response, so nothing runs twice; an expired action is
 * FAILED_PRECONDITION and never runs.
 */
export async function confirmAction(
  deps: ConfirmDeps,
  ctx: TurnContext,
  decision: { conversationId: string; actionId: string; approve: boolean },
): Promise<ChatResponse> {
  const { actions } = deps;
  const { conversationId, actionId, approve } = decision;
  const action = await actions.getOwned(actionId, ctx.principal);
  if (!action || action.conversationId !== conversationId || !isOwnedBy(action, ctx.principal))
    throw publicError(Code.NotFound, 'action not found');
  // A decided action answers its stored response: that spends nothing and runs nothing.
  if (action.response) return storedResponse(action.response);
  if (approve) checkMayRun(deps, ctx, action);
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
 * stored result instead of writing twice. Nothing is sent when the action was
 * finished in the meantime.
 */
export async function reconcileApprovedAction(
  deps: ConfirmDeps,
  action: PendingActionRecord,
  signal: AbortSignal,
): Promise<void> {
  const principal = fromJson(PrincipalSchema, action.principal as JsonValue);
  const ctx: TurnContext = { principal, requestId: `reconcile:${action.actionId}`, signal };
  await deps.leases.withConversation(action.conversationId, async () => {
    // Under the lease, looked at again: whoever held the conversation before (a Confirm,
    // another replica's reconciler) may have finished it after it was listed.
    const current = await deps.actions.get(action.actionId);
    if (current?.status !== 'executing' || current.response) return;
    // The write's result message and its ledger end commit together: with the message
    // in the conversation the write is done and only the rest of the turn is missing.
    const history = await deps.conversations.load(action.conversationId);
    const recorded = history.some((m) => m.role === 'tool' && m.toolCallId === current.toolCallId);
    await completeDecision(deps, ctx, current, true, { recorded });
  });
}
