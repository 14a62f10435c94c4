import { traceDependency } from '@toolmesh/telemetry';
import type { Cluster, Redis } from 'ioredis';
import type { RateDecision, RateRule } from './rate-rule.ts';

/** Token buckets kept in Redis, shared by every process using the same prefix. */
export interface RedisBuckets {
  take(key: string, rule: RateRule, cost: number): Promise<RateDecision>;
}

// One round trip, atomic, and timed by the Redis server's clock so replicas with
// skewed clocks still agree. Times are milliseconds with a microsecond fraction,
// written with string.format because Lua's default number-to-string keeps only
// 14 digits, which would round a millisecond timestamp to 10 ms.
// Calling TIME before writing needs effect replication: Redis >= 5.
const takeScript = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
end
local allowed = 0
local retry = 0
if tokens + 1e-9 >= cost then
  allowed = 1
  tokens = math.max(0, tokens - cost)
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'at', string.format('%.3f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1)
return { allowed, retry, math.floor(tokens + 1e-9) }
`;

const commandName = 'toolmeshRateLimitTake';

type TakeCommand = (
  key: string,
  rate: string,
  burst: string,
  cost: string,
) => Promise<[number, number, number]>;

/**
 * Defines the take script on the client (ioredis sends EVALSHA and falls back to EVAL
 * once when the server lacks the script, e.g. after a restart). The key expires when
 * the bucket would be full again, so idle buckets vanish from Redis on their own.
 */
export function createRedisBuckets(redis: Redis | Cluster, prefix: string): RedisBuckets {
  redis.defineCommand(commandName, { numberOfKeys: 1, lua: takeScript });
  // defineCommand adds the method at run time; its type is not known to ioredis.
  const command = (redis as unknown as Record<string, TakeCommand>)[commandName];
  if (!command) throw new Error('ioredis did not define the rate limit command');
  const take = command.bind(redis);
  return {
    async take(key, rule, cost) {
      // The span names the command, never the key: keys hold user ids.
      const [allowed, retryAfterMs, remaining] = await traceDependency(
        'EVALSHA',
        { 'db.system.name': 'redis', 'db.operation.name': 'EVALSHA' },
        () => take(`${prefix}rl:${key}`, String(rule.ratePerSec), String(rule.burst), String(cost)),
      );
      return { allowed: allowed === 1, retryAfterMs, remaining };
    },
  };
}
