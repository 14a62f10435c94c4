import { Redis } from 'ioredis';

/** What a test says when the local Redis is down: how to start it. */
const redisUnreachable =
  'Redis is not reachable at 127.0.0.1:6379 — start it with: ' +
  'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no';

/** A client of the local Redis for a test; fails loudly (never skips) when Redis is down. */
export async function connectTestRedis(url = 'redis://127.0.0.1:6379'): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(`${redisUnreachable} (${String(error)})`);
  }
  return client;
}
