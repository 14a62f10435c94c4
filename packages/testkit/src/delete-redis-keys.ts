import { connectTestRedis } from './connect-test-redis.ts';

/** Deletes every key under `prefix` on the local Redis (what a test run left). */
export async function deleteRedisKeys(prefix: string, url?: string): Promise<number> {
  const redis = await connectTestRedis(url);
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
