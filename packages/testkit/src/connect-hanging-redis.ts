import net from 'node:net';
import { Redis } from 'ioredis';

/** A Redis client connected to a server that accepts and never answers, and how to end both. */
export interface HangingRedis {
  readonly redis: Redis;
  close(): Promise<void>;
}

/** Connects a Redis client to a stalled server on 127.0.0.1 (Redis hanging). */
export async function connectHangingRedis(): Promise<HangingRedis> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  // Without the ready check and the CLIENT SETINFO calls, the client is ready as soon as TCP connects.
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    disableClientInfo: true,
  });
  redis.on('error', () => {});
  await redis.connect();
  return {
    redis,
    async close() {
      redis.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
