import { Redis } from 'ioredis';

/**
 * The Redis client for shared limits and caches, or none without a URL. Commands
 * fail fast while disconnected (no offline queue) so callers fall back to their
 * in-process state instead of waiting; an unreachable Redis at start is reported,
 * not fatal — the client keeps reconnecting.
 */
export async function connectRedis(
  url: string | undefined,
  onUnreachable: (error: unknown) => void,
): Promise<Redis | undefined> {
  if (!url) return undefined;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  await redis.connect().catch(onUnreachable);
  return redis;
}
