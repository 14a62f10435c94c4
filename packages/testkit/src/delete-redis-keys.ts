import { Redis } from 'ioredis';

/**
 * Deletes every key under `prefix` on the local Redis (what a test run left).
 * Fails loudly, saying how to start Redis, when it is not reachable.
 */
export async function deleteRedisKeys(prefix: string, url = 'redis://127.0.0.1:6379'): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
  } catch (error) {
    throw new Error(
      `Redis is not reachable at ${url} (${String(error)}) — start it with: ` +
        'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
    );
  }
  try {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}
