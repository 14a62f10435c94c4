import { randomUUID } from 'node:crypto';
import { type Clock, type ClockTimer, systemClock } from '@toolmesh/clock';
import type { RateLimiter } from '@toolmesh/limits';
import { errorFor } from '@toolmesh/rpc';
import type { Logger } from '@toolmesh/telemetry';
import type { Cluster, Redis } from 'ioredis';
import type { TenantPolicy } from '../assistants/assistant-catalog.ts';
import { createReplicaShareRateLimiter } from './replica-share-rate-limiter.ts';

/** Why a tenant's turn was refused (a metric label). */
export type BudgetRefusal = 'token_budget' | 'concurrent_turns' | 'chat_rate';

/** Options of {@link createTenantBudgets}. */
export interface TenantBudgetsOptions {
  /**
   * Counts across replicas; without it (or while it fails) each replica counts on its
   * own, against its share of each budget (see `replicas`).
   */
  redis?: Redis | Cluster;
  /**
   * How many replicas are alive now (e.g. ReplicaRegistry.liveCount); default 1. Counting
   * in process, a replica allows 1/N of the concurrent turns and of the chat rate, and
   * takes its own tokens as 1/N of the tenant's day, so N replicas together stay near
   * the budget instead of N times over it.
   */
  replicas?: () => number;
  /** Prepended to every Redis key, e.g. `toolmesh:orchestrator:`. */
  prefix: string;
  logger: Logger;
  /** Longest wait for Redis before counting in process; default 50 ms. */
  redisTimeoutMs?: number;
  /**
   * How long a turn's slot counts at most: the slot of a replica that died mid-turn frees
   * itself after this; default 10 min.
   */
  turnSlotTtlMs?: number;
  /** Hears every refusal, e.g. for metrics. */
  onRefused?: (reason: BudgetRefusal, tenantId: string) => void;
  /** Days, slot expiry and the rate buckets; default the system clock. */
  clock?: Clock;
}

/** Gives a turn's slot back (never rejects); calling it again does nothing. */
export type ReleaseTurn = () => Promise<void>;

/** Per-tenant budgets of the assistants file: tokens per UTC day, turns at once, chat rate. */
export interface TenantBudgets {
  /**
   * Admits a turn of the tenant, or refuses it with RESOURCE_EXHAUSTED and when to retry
   * (TENANT_BUDGET_EXHAUSTED, TENANT_BUSY, RATE_LIMITED with scope "tenant"). Call it
   * before the model is asked; release the slot when the turn ends.
   */
  admit(tenantId: string, policy: TenantPolicy | undefined): Promise<ReleaseTurn>;
  /** Adds the tokens of a model answer to the tenant's day. */
  spend(tenantId: string, tokens: number): Promise<void>;
  /** The tenant's tokens of the current UTC day, as the budget sees them. */
  spentToday(tenantId: string): Promise<number>;
}

const dayMs = 86_400_000;
// The day's name is asked on every model answer: formatted once per day, not per call.
let named = { day: Number.NaN, text: '' };
const utcDay = (now: number) => {
  const day = Math.floor(now / dayMs);
  if (day !== named.day) named = { day, text: new Date(day * dayMs).toISOString().slice(0, 10) };
  return named.text;
};
const untilNextUtcMidnight = (now: number) => dayMs - (now % dayMs);

// A sorted set of the turns running: member = turn id, score = when its slot expires.
// Expired slots are dropped first, so a crashed replica's turns free themselves.
const acquireScript = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/**
 * Creates the {@link TenantBudgets}: in Redis when configured, so every replica counts
 * against one budget, in process otherwise — and while Redis fails, logged once per
 * outage, like the rate limits of @toolmesh/limits (whose token buckets serve the chat rate).
 */
export function createTenantBudgets(options: TenantBudgetsOptions): TenantBudgets {
  const clock = options.clock ?? systemClock;
  const { redis, prefix, logger } = options;
  const timeoutMs = options.redisTimeoutMs ?? 50;
  const slotTtlMs = options.turnSlotTtlMs ?? 600_000;
  const replicas = () => Math.max(1, Math.floor(options.replicas?.() ?? 1));
  let degraded = false;
  const fellBack = (error: unknown) => {
    if (degraded) return;
    degraded = true;
    logger.warn({ err: error }, 'Redis unavailable; tenant budgets count per replica until it is back');
  };
  const recovered = () => {
    if (!degraded) return;
    degraded = false;
    logger.info('Redis is back; tenant budgets count across replicas again');
  };
  const rates: RateLimiter = createReplicaShareRateLimiter({
    redis,
    prefix: `${prefix}tenant-rate:`,
    redisTimeoutMs: timeoutMs,
    onFallback: fellBack,
    replicas,
    clock,
  });

  // In-process counts: the only ones without Redis, the fallback with it.
  const localTokens = new Map<string, number>();
  const localTurns = new Map<string, number>();

  /** Runs `command` on Redis within the timeout, or answers `local()` (and logs the outage once). */
  async function shared<T>(command: (r: Redis | Cluster) => Promise<T>, local: () => T): Promise<T> {
    if (!redis) return local();
    if (redis.status !== 'ready' && redis.status !== 'wait') {
      fellBack(new Error(`redis is ${redis.status}`));
      return local();
    }
    let timer: ClockTimer | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = clock.setTimeout(
          () => reject(new Error(`redis took longer than ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      const result = await Promise.race([command(redis), timeout]);
      recovered();
      return result;
    } catch (error) {
      fellBack(error);
      return local();
    } finally {
      timer?.cancel();
    }
  }

  const tokensKey = (tenantId: string, now: number) => `${prefix}tenant-tokens:${tenantId}:${utcDay(now)}`;
  const spentToday = (tenantId: string) => {
    const key = tokensKey(tenantId, clock.now());
    return shared(
      async (r) => Number((await r.get(key)) ?? 0),
      // This replica's tokens stand for its share of the day.
      () => (localTokens.get(key) ?? 0) * replicas(),
    );
  };

  const refuse = (reason: BudgetRefusal, tenantId: string, error: Error) => {
    options.onRefused?.(reason, tenantId);
    return error;
  };

  async function takeSlot(tenantId: string, limit: number): Promise<ReleaseTurn | undefined> {
    const key = `${prefix}tenant-turns:${tenantId}`;
    const id = randomUUID();
    const now = clock.now();
    // Which store took the slot decides where it is given back.
    const where = await shared<'redis' | 'local' | undefined>(
      async (r) =>
        (await r.eval(acquireScript, 1, key, now, now + slotTtlMs, limit, id, slotTtlMs * 2)) === 1
          ? 'redis'
          : undefined,
      () => {
        const running = localTurns.get(tenantId) ?? 0;
        // This replica's share of the turns, one at least.
        if (running >= Math.max(1, Math.floor(limit / replicas()))) return undefined;
        localTurns.set(tenantId, running + 1);
        return 'local';
      },
    );
    if (!where) return undefined;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (where === 'local') {
        const running = (localTurns.get(tenantId) ?? 1) - 1;
        if (running > 0) localTurns.set(tenantId, running);
        else localTurns.delete(tenantId);
        return;
      }
      // A lost release only holds the slot until it expires.
      await shared(
        (r) => r.zrem(key, id),
        () => 0,
      );
    };
  }

  return {
    async admit(tenantId, policy) {
      const none: ReleaseTurn = async () => {};
      if (!policy) return none;
      const now = clock.now();
      if (policy.tokensPerDay !== undefined && (await spentToday(tenantId)) >= policy.tokensPerDay) {
        throw refuse(
          'token_budget',
          tenantId,
          errorFor('TENANT_BUDGET_EXHAUSTED', {
            retryAfterMs: untilNextUtcMidnight(now),
            metadata: { tenant: tenantId },
          }),
        );
      }
      if (policy.chatRatePerSec !== undefined) {
        const rule = {
          ratePerSec: policy.chatRatePerSec,
          burst: policy.chatBurst ?? Math.max(1, Math.ceil(policy.chatRatePerSec)),
        };
        const decision = await rates.take(tenantId, rule);
        if (!decision.allowed) {
          throw refuse(
            'chat_rate',
            tenantId,
            errorFor('RATE_LIMITED', { retryAfterMs: decision.retryAfterMs, metadata: { scope: 'tenant' } }),
          );
        }
      }
      if (policy.concurrentTurns === undefined) return none;
      const release = await takeSlot(tenantId, policy.concurrentTurns);
      if (!release) {
        // Turns end on their own; a second is a fair first guess.
        throw refuse(
          'concurrent_turns',
          tenantId,
          errorFor('TENANT_BUSY', { retryAfterMs: 1_000, metadata: { tenant: tenantId } }),
        );
      }
      return release;
    },
    async spend(tenantId, tokens) {
      if (tokens <= 0) return;
      const key = tokensKey(tenantId, clock.now());
      await shared(
        async (r) => {
          // Kept two days: yesterday's count is still there for anyone looking at midnight.
          await r
            .multi()
            .incrby(key, tokens)
            .pexpire(key, 2 * dayMs)
            .exec();
        },
        () => {
          localTokens.set(key, (localTokens.get(key) ?? 0) + tokens);
          // Days gone are dropped, so the map holds at most a day per tenant.
          const today = utcDay(clock.now());
          for (const k of localTokens.keys()) if (!k.endsWith(today)) localTokens.delete(k);
        },
      );
    },
    spentToday,
  };
}
