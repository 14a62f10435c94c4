import { Redis } from 'ioredis';

/** A Redis client pointed at a closed port: every command fails at once (Redis down). */
export function deadRedisClient(): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port: 1,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    connectTimeout: 50,
    retryStrategy: () => null,
  });
  client.on('error', () => {});
  return client;
}
