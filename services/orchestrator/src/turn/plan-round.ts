import { type Principal, SideEffect } from '@toolmesh/proto';
import { maskSensitive } from '@toolmesh/telemetry';
import type { ModelToolCall } from '../core-types.ts';
import type { NewPendingAction, PendingActionRecord } from '../store/index.ts';
import type { PlannedCall, ToolRegistry } from '../tools/index.ts';
import { canonicalJson, failedOutcome, type ToolOutcome } from '../tools/index.ts';

/** Bounds on what one model round may ask for. */
export interface RoundLimits {
  maxToolCallsPerRound: number;
  maxArgumentBytes: number;
}

/** What a round's tool calls turned into. */
export interface PlannedRound {
  /** Valid reads, to run now. */
  runnable: PlannedCall[];
  /** Refused before anything was sent. */
  failed: ToolOutcome[];
  /** Writes, stored as pending actions for the user to decide. */
  held: PendingActionRecord[];
}

/** Inputs of {@link planRound}. */
export interface PlanRoundInput {
  conversationId: string;
  principal: Principal;
  calls: ModelToolCall[];
  registry: ToolRegistry;
  limits: RoundLimits;
  /** The assistant's tool list: a tool outside it is refused like an unknown tool; default all. */
  allowed?: (toolName: string) => boolean;
  holdForApproval: (
    action: Omit<NewPendingAction, 'ttlSeconds' | 'principal'>,
  ) => Promise<PendingActionRecord>;
}

// The user reads this line in replies and on the approval prompt, and it is stored:
// it is built from the masked arguments, never from the real ones.
function describeCall(toolName: string, args: Record<string, unknown>): string {
  const parts = Object.entries(args).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${toolName}(${parts.join(', ')})`;
}

/**
 * The model only suggests: each call is checked here before anything runs —
 * round size, known tool (and one of the assistant's), the user's permission, argument size, JSON, the tool's
 * JSON Schema — and writes are held for approval. A refused call becomes a failed
 * outcome the model reads, so it can repair the call; nothing here throws on bad input.
 */
export async function planRound(input: PlanRoundInput): Promise<PlannedRound> {
  const { principal, registry, limits } = input;
  const runnable: PlannedCall[] = [];
  const failed: ToolOutcome[] = [];
  const held: PendingActionRecord[] = [];
  for (const [index, call] of input.calls.entries()) {
    const name = call.name.slice(0, 64);
    const fail = (code: Parameters<typeof failedOutcome>[2], message: string) =>
      failed.push(failedOutcome(call.id, name, code, message));
    if (index >= limits.maxToolCallsPerRound) {
      fail('INVALID_ARGUMENT', `too many tool calls in one round (limit ${limits.maxToolCallsPerRound})`);
      continue;
    }
    // A tool outside the assistant's list gets the very answer of a tool that does not
    // exist: the model learns nothing about tools it was not offered.
    const tool =
      (input.allowed?.(call.name) ?? true) ? registry.get(call.name, input.conversationId) : undefined;
    if (!tool) {
      fail('INVALID_ARGUMENT', `unknown tool "${name}"`);
      continue;
    }
    if (!principal.permissions.includes(tool.definition.metadata?.permission ?? '')) {
      fail('PERMISSION_DENIED', `the user may not run ${name}`);
      continue;
    }
    if (Buffer.byteLength(call.arguments) > limits.maxArgumentBytes) {
      fail('INVALID_ARGUMENT', `arguments exceed ${limits.maxArgumentBytes} bytes`);
      continue;
    }
    let args: unknown;
    try {
      args = call.arguments.trim() === '' ? {} : JSON.parse(call.arguments);
    } catch {
      fail('INVALID_ARGUMENT', 'arguments are not valid JSON');
      continue;
    }
    const problem = tool.validate(args);
    if (problem) {
      fail('INVALID_ARGUMENT', `arguments do not match the schema: ${problem}`);
      continue;
    }
    const argumentsJson = canonicalJson(args);
    if (tool.definition.metadata?.sideEffect === SideEffect.WRITE) {
      const masked = maskSensitive(args, tool.definition.metadata.sensitiveFields);
      held.push(
        await input.holdForApproval({
          conversationId: input.conversationId,
          tenantId: principal.tenantId,
          userId: principal.userId,
          toolName: name,
          toolCallId: call.id,
          argumentsJson,
          maskedArgumentsJson: canonicalJson(masked),
          summary: describeCall(name, masked as Record<string, unknown>),
        }),
      );
      continue;
    }
    runnable.push({
      toolCallId: call.id,
      tool,
      argumentsJson,
      idempotencyKey: `${input.conversationId}:${call.id}`,
    });
  }
  return { runnable, failed, held };
}
