import {
  type ConcurrencyLimiter,
  type KeyedConcurrencyLimiter,
  LimitExceededError,
  type RateLimiter,
  type RateRule,
} from '@toolmesh/limits';
import type { Owner } from '../core-types.ts';

/** Either a slot to run in (release it when done), or why not. */
export type Admission = { release: () => void } | { refused: string; retryAfterMs: number };

/**
 * Decides whether a tool call may run now: rate per (tenant, user) and tool, then
 * concurrency per tool and overall.
 */
export type ToolAdmission = (toolName: string, caller: Owner, signal: AbortSignal) => Promise<Admission>;

// Segments percent-encoded, so ids containing ":" cannot make two callers share a bucket.
const segment = (text: string) => encodeURIComponent(text);

/**
 * The rate-limit key of a caller's calls of a tool: tenant and user, since user ids
 * are only unique within a tenant (u_1001 of one tenant must not spend another's budget).
 */
export function toolRateKey(caller: Owner, toolName: string): string {
  return `tool:${segment(caller.tenantId)}:${segment(caller.userId)}:${segment(toolName)}`;
}

/** Options of {@link createToolAdmission}. */
export interface ToolAdmissionOptions {
  rateLimiter: RateLimiter;
  /** Calls per second (and burst) one user may make of one tool. */
  perUserToolRate: RateRule;
  /** Per-tool slots (the tool's max_concurrency); waiting is bounded. */
  perTool: KeyedConcurrencyLimiter;
  /** All tool calls of this orchestrator replica. */
  global: ConcurrencyLimiter;
}

/**
 * Limits on the orchestrator's side of every tool call. A call over a rate limit
 * is refused at once; a call at a concurrency limit waits in a bounded queue and
 * is refused when the queue is full or the wait too long — never an unbounded hang.
 */
export function createToolAdmission(options: ToolAdmissionOptions): ToolAdmission {
  return async (toolName, caller, signal) => {
    const rate = await options.rateLimiter.take(toolRateKey(caller, toolName), options.perUserToolRate);
    if (!rate.allowed) {
      return { refused: `rate limit for ${toolName} reached`, retryAfterMs: rate.retryAfterMs };
    }
    let releaseTool: (() => void) | undefined;
    try {
      releaseTool = await options.perTool.acquire(toolName, signal);
      const releaseGlobal = await options.global.acquire(signal);
      const held = releaseTool;
      return {
        release: () => {
          releaseGlobal();
          held();
        },
      };
    } catch (error) {
      releaseTool?.();
      if (error instanceof LimitExceededError) {
        return { refused: `too many ${toolName} calls in flight (${error.reason})`, retryAfterMs: 1_000 };
      }
      throw error;
    }
  };
}
