import { traceDependency } from '@toolmesh/telemetry';
import type { Redis } from 'ioredis';
import type { CacheStore } from './cache-store.ts';

// One atomic round trip: the value and its tag memberships appear together. A tag set
// lives at least as long as its longest entry (PEXPIRE only ever extends it), so an
// invalidation finds every live entry; members that expired meanwhile are harmless.
const setScript = `
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
`;

// SMEMBERS and DEL in one script, so an entry written between reading a set and deleting
// its members cannot survive the invalidation. DEL answers 0 for an expired entry or one
// already removed through another tag, so each live entry counts once.
const invalidateScript = `
local removed = 0
for i = 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #members do
    removed = removed + redis.call('DEL', members[j])
  end
  redis.call('DEL', KEYS[i])
end
return removed
`;

const setCommand = 'toolmeshCacheSet';
const invalidateCommand = 'toolmeshCacheInvalidate';

type ScriptCommand = (...args: (string | number)[]) => Promise<number>;

function defined(redis: Redis, name: string, lua: string): ScriptCommand {
  redis.defineCommand(name, { lua });
  // defineCommand adds the method at run time; its type is not known to ioredis.
  const command = (redis as unknown as Record<string, ScriptCommand>)[name];
  if (!command) throw new Error(`ioredis did not define ${name}`);
  return command.bind(redis);
}

/**
 * Entries as `${prefix}v:${key}` strings with a PX expiry and tags as `${prefix}t:${tag}`
 * sets of entry keys, shared by every process using the same prefix. The scripts touch
 * keys they read from the sets, so this needs a single Redis (or replicated primary),
 * not a Cluster.
 */
export function createRedisStore(redis: Redis, prefix: string): CacheStore {
  // Without numberOfKeys the key count is the first argument of each call.
  const set = defined(redis, setCommand, setScript);
  const invalidate = defined(redis, invalidateCommand, invalidateScript);
  const entryKey = (key: string) => `${prefix}v:${key}`;
  // Spans name the command, never a key: keys hold user and order ids.
  const span = <T>(operation: string, run: () => Promise<T>) =>
    traceDependency(
      operation,
      {
        'db.system.name': 'redis',
        'db.operation.name': operation,
        'server.address': redis.options.host ?? '',
        'server.port': redis.options.port ?? 6379,
      },
      run,
    );
  const tagKey = (tag: string) => `${prefix}t:${tag}`;
  return {
    async get(key) {
      return (await span('GET', () => redis.get(entryKey(key)))) ?? undefined;
    },
    async set(key, value, ttlMs, tags) {
      const keys = [entryKey(key), ...new Set(tags.map(tagKey))];
      await span('EVALSHA', () => set(keys.length, ...keys, value, ttlMs));
    },
    async invalidate(tags) {
      const keys = [...new Set(tags.map(tagKey))];
      if (keys.length === 0) return 0;
      return Number(await span('EVALSHA', () => invalidate(keys.length, ...keys)));
    },
  };
}
